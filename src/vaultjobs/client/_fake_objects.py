"""The object endpoints of `FakeVault` (``vault.objects``): an in-memory catalog and records.

Enough of Vault's behaviour for client tests: metadata, the record collection with paging, bulk
create/upsert/update/delete answering one result per record, Execute MDL (scripts are recorded and
answered SUCCESS, or FAILURE when they contain ``FAIL``), and the Deep Copy, Cascade Delete and
Create EDL jobs, whose result rows tests set with `FakeObjects.set_results`.
"""

from __future__ import annotations

import itertools
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

import httpx
import orjson

if TYPE_CHECKING:
    from .testing import FakeVault

__all__ = ["FakeObjects"]

Body = dict[str, Any]


def _failure(error_type: str, message: str) -> Body:
    return {"responseStatus": "FAILURE", "errors": [{"type": error_type, "message": message}]}


class FakeObjects:
    """Objects by name (each with its fields), their records by id, and the object jobs started."""

    def __init__(self, vault: FakeVault) -> None:
        self.vault = vault
        self.definitions: dict[str, list[dict[str, Any]]] = {}
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.scripts: list[str] = []
        #: Job id → (action, object, record id, parameters) of each object job started.
        self.jobs: dict[int, tuple[str, str, str, dict[str, Any]]] = {}
        self.results: dict[tuple[int, str], list[dict[str, str]]] = {}
        self._ids = itertools.count(1)

    def add_object(self, name: str, *fields: str, unique: str | None = None) -> None:
        """Define object ``name`` with ``id``, ``name__v`` and ``fields`` (``unique`` among them)."""
        self.definitions[name] = [
            {"name": f, "type": "String", "label": f, "required": f == "name__v", "unique": f in ("id", unique)}
            for f in ("id", "name__v", *fields)
        ]
        self.records.setdefault(name, {})

    def set_results(self, job_id: int, outcome: str, rows: list[dict[str, str]]) -> None:
        self.results[(job_id, outcome)] = rows

    # -- routing -----------------------------------------------------------------------------------

    def route(self, request: httpx.Request, version: str, rest: str) -> Body | None:
        """The answer to an object request, or None when ``rest`` is not an object path."""
        method = request.method
        if rest == "metadata/vobjects" and method == "GET":
            return {"responseStatus": "SUCCESS", "objects": [self._summary(n) for n in self.definitions]}
        if m := re.fullmatch(r"metadata/vobjects/([^/]+)", rest):
            name = urllib.parse.unquote(m.group(1))
            if name not in self.definitions:
                return _failure("INVALID_DATA", f"Object [{name}] not found")
            return {"responseStatus": "SUCCESS", "object": {**self._summary(name), "fields": self.definitions[name]}}
        if m := re.fullmatch(r"vobjects/(deepcopy|cascadedelete)/results/([^/]+)/(success|failure)/(\d+)", rest):
            job_id = int(m.group(4))
            started = self.jobs.get(job_id)
            if started is None or started[0] != m.group(1) or started[1] != m.group(2):
                return _failure("INVALID_DATA", f"Job [{job_id}] is not a {m.group(1)} job of [{m.group(2)}]")
            return {"responseStatus": "SUCCESS", "data": self.results.get((job_id, m.group(3)), [])}
        if m := re.fullmatch(r"vobjects/([^/]+)/([^/]+)/actions/(deepcopy|cascadedelete|etmfcreateedl)", rest):
            return self._start(request, version, m.group(3), m.group(1), m.group(2))
        if m := re.fullmatch(r"vobjects/([^/]+)/([^/]+)", rest):
            name, record_id = m.groups()
            found = self.records.get(name, {}).get(record_id)
            if found is None:
                return _failure("INVALID_DATA", f"The resource [{record_id}] does not exist")
            return {"responseStatus": "SUCCESS", "data": found}
        if m := re.fullmatch(r"vobjects/([^/]+)", rest):
            name = m.group(1)
            if name not in self.definitions:
                return _failure("INVALID_DATA", f"Object [{name}] not found")
            if method == "GET":
                return self._collection(request, version, name)
            return self._bulk(request, name)
        return None

    def route_mdl(self, request: httpx.Request) -> Body:
        script = request.content.decode()
        self.scripts.append(script)
        failed = "FAIL" in script
        body: Body = {
            "responseStatus": "FAILURE" if failed else "SUCCESS",
            "script_execution": {"code": "GEN-F-0" if failed else "GEN-S-0", "failures": int(failed),
                                 "components_affected": 0 if failed else 1},
            "statement_execution": [{"statement": 1, "command": "CREATE", "component": "Object.x__c",
                                     "message": "failed" if failed else "created",
                                     "response": "FAILURE" if failed else "SUCCESS"}],
        }
        if failed:
            body["errors"] = [{"type": "INVALID_DATA", "message": "1 of 1 statements failed"}]
        return body

    # -- answers -----------------------------------------------------------------------------------

    def _summary(self, name: str) -> dict[str, Any]:
        return {"name": name, "label": name.title(), "label_plural": name.title() + "s", "prefix": "V0A",
                "status": ["active__v"]}

    def _collection(self, request: httpx.Request, version: str, name: str) -> Body:
        fields = (request.url.params.get("fields") or "id,name__v").split(",")
        rows = list(self.records[name].values())
        path = f"/api/{version}/vobjects/{name}"
        _, offset, details = self.vault._page(request, path, len(rows))
        limit = details["limit"]
        return {"responseStatus": "SUCCESS", "responseDetails": details,
                "data": [{f: r.get(f) for f in fields} for r in rows[offset : offset + limit]]}

    def _bulk(self, request: httpx.Request, name: str) -> Body:
        items = orjson.loads(request.content)
        id_param = request.url.params.get("idParam")
        records = self.records[name]
        results: list[Body] = []
        for item in items:
            key = id_param or "id"
            match = next((r for r in records.values() if key in item and r.get(key) == item[key]), None)
            if request.method == "DELETE":
                if match is None:
                    results.append(_failure("INVALID_DATA", "record not found"))
                    continue
                del records[match["id"]]
                results.append({"responseStatus": "SUCCESS", "data": {"id": match["id"]}})
            elif request.method == "PUT" or (id_param and match is not None):
                if match is None:
                    results.append(_failure("INVALID_DATA", "record not found"))
                    continue
                match.update({k: v for k, v in item.items() if k != "id"})
                data = {"id": match["id"], "url": "…"}
                if id_param:
                    data["event"] = "updated__sys"
                results.append({"responseStatus": "SUCCESS", "data": data})
            else:
                unique = [f["name"] for f in self.definitions[name] if f["unique"] and f["name"] != "id"]
                if any(item.get(u) is not None and r.get(u) == item.get(u) for u in unique for r in records.values()):
                    results.append(_failure("DUPLICATE_VALUE", "a record has that value"))
                    continue
                record_id = f"V0A{next(self._ids):013d}"
                records[record_id] = {**item, "id": record_id}
                data = {"id": record_id, "url": "…"}
                if id_param:
                    data["event"] = "created__sys"
                results.append({"responseStatus": "SUCCESS", "data": data})
        return {"responseStatus": "SUCCESS", "data": results}

    def _start(self, request: httpx.Request, version: str, action: str, name: str, record_id: str) -> Body:
        if record_id not in self.records.get(name, {}):
            return _failure("INVALID_DATA", f"The resource [{record_id}] does not exist")
        parameters: dict[str, Any] = dict(request.url.params)
        if request.content:
            parameters["body"] = orjson.loads(request.content)
        job_id = self.vault.add_job(["QUEUED", "RUNNING", "SUCCESS"], title=f"{action} {name} {record_id}")
        self.jobs[job_id] = (action, name, record_id, parameters)
        return {"responseStatus": "SUCCESS", "url": f"/api/{version}/services/jobs/{job_id}", "job_id": job_id}
