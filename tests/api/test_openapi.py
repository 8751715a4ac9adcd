"""openapi.yaml describes the app exactly: the same routes and methods, a valid OpenAPI document,
the same error types, statuses and versions as the code, and served by the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_spec_validator import validate
from starlette.routing import Route

from vaultjobs import errors
from vaultjobs.api.families import Family
from vaultjobs.api.versions import NEWEST_VERSION, SUPPORTED_VERSIONS
from vaultjobs.node import Node, build_node
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus, TaskState

# Routes the app has that openapi.yaml does not describe: none. Kept so that a gap has to be named.
NOT_YET_DESCRIBED: set[tuple[str, str]] = set()
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
OPEN_OPERATIONS = {("POST", "/api/{version}/auth"), ("GET", "/_vaultjobs/health"),
                   ("GET", "/_vaultjobs/openapi.yaml"), ("GET", "/_vaultjobs/ready"), ("GET", "/_vaultjobs/metrics")}
#: Operations that answer other statuses than 200: readiness is for load balancers, which read the status.
NOT_ALWAYS_200 = {("GET", "/_vaultjobs/ready"): {"200", "503"}}


def load_document() -> dict[str, Any]:
    text = resources.files("vaultjobs.api").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_document()


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    built = build_node(Settings(data_dir=tmp_path, workers=0))
    yield built
    built.store.close()


def app_operations(node: Node) -> set[tuple[str, str]]:
    """(METHOD, path template) of every route; ``{name:convertor}`` becomes ``{name}``.

    Starlette answers HEAD wherever it answers GET; the document leaves that implicit.
    """
    found: set[tuple[str, str]] = set()
    for family in node.app.routes:
        if getattr(family, "path", "") == "/ui" or getattr(family, "name", "") == "ui":
            continue  # the Job Status page (docs/ui.md), not an API
        assert isinstance(family, Family), f"unexpected route kind {family!r}"
        for route in family.routes:
            assert isinstance(route, Route), f"unexpected route kind {route!r}"
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", family.path + route.path)
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, path))
    return found


def document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def resolve(document: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in value:
        target: Any = document
        for part in value["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        value = target
    return value


def test_every_route_is_documented_and_every_documented_path_is_a_route(node: Node, document: dict[str, Any]) -> None:
    in_app = app_operations(node)
    in_document = document_operations(document)
    assert sorted(in_app - in_document - NOT_YET_DESCRIBED) == [], "routes missing from openapi.yaml"
    assert sorted(in_document - in_app) == [], "openapi.yaml describes routes the app does not have"
    assert sorted(NOT_YET_DESCRIBED - in_app) == [], "NOT_YET_DESCRIBED names routes the app does not have"
    assert sorted(NOT_YET_DESCRIBED & in_document) == [], "described now: delete them from NOT_YET_DESCRIBED"


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert str(document["openapi"]).startswith("3.")


def test_operations_are_described_as_implemented(document: dict[str, Any]) -> None:
    operation_ids: set[str] = set()
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        assert operation.get("operationId") and operation["operationId"] not in operation_ids, where
        operation_ids.add(operation["operationId"])
        expected = NOT_ALWAYS_200.get((method, path), {"200"})
        assert set(operation["responses"]) == expected, f"{where}: every processed request answers 200"
        response = resolve(document, operation["responses"]["200"])
        content = response["content"]
        params = {resolve(document, p)["name"] for p in operation.get("parameters", [])}
        for name in re.findall(r"\{(\w+)\}", path):
            assert name in params, f"{where}: path parameter {name} is not described"
        open_operation = (method, path) in OPEN_OPERATIONS
        assert (operation.get("security") == []) == open_operation, f"{where}: security"
        if path.startswith("/api"):
            assert {"application/json", "application/xml"} <= set(content), where
            headers = response["headers"]
            assert {"X-VaultAPI-Status", "X-VaultAPI-ExecutionId", "X-VaultAPI-UserId"} <= set(headers), where
            assert {"client_id", "X-VaultAPI-ClientID", "X-VaultAPI-ReferenceID"} <= params, where
            for media_type in ("application/json", "application/xml"):
                schema = content[media_type]["schema"]
                alternatives = [resolve(document, s) for s in schema.get("oneOf", [schema])]
                assert document["components"]["schemas"]["Failure"] in alternatives, f"{where}: failure envelope"
        if path.startswith("/api/{version}"):
            assert "version" in params, where


def test_error_types_match_the_code(document: dict[str, Any]) -> None:
    def subclasses(cls: type[errors.VaultError]) -> Iterator[type[errors.VaultError]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from subclasses(sub)

    in_code = {cls.type for cls in subclasses(errors.VaultError) if cls.__module__ == errors.__name__}
    in_document = set(document["components"]["schemas"]["ErrorType"]["enum"])
    assert in_document == in_code
    # Every error type an operation names in its description is one the envelope may carry.
    for method, path, operation in operations(document):
        named = set(re.findall(r"`([A-Z][A-Z_]+[A-Z])`", operation.get("description", "")))
        named -= {"SUCCESS", "FAILURE", "EXCEPTION", "AUTHENTICATION_FAILED"}
        named -= {s.value for s in JobStatus}
        assert named <= in_code, f"{method} {path}: {sorted(named - in_code)}"


def test_statuses_and_versions_match_the_code(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["JobStatus"]["enum"]) == {s.value for s in JobStatus}
    assert set(schemas["TaskState"]["enum"]) == {s.value for s in TaskState}
    version = document["components"]["parameters"]["version"]
    assert version["schema"]["pattern"] == r"^v\d+\.\d+$"
    assert f"{SUPPORTED_VERSIONS[0]} through {NEWEST_VERSION}" in version["description"]
    assert f"{SUPPORTED_VERSIONS[0]} … {NEWEST_VERSION}" in document["info"]["description"]


def test_the_app_serves_the_document(app_client: httpx.Client) -> None:
    expected = resources.files("vaultjobs.api").joinpath("openapi.yaml").read_bytes()
    response = app_client.get("/_vaultjobs/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.content == expected
    assert yaml.safe_load(response.text)["paths"]
