"""The package answers, in the shapes Vault's clients read: Import results (``vaultPackage``), the
synchronous Validate answers (labels, not names) and the Deploy results (integer counters).

Quirks kept on purpose: ``log[0]`` is the Validation.log and ``deployment_log`` is always
``[Validation.log, Deployment.log]`` (clients take ``get(0)``/``get(1)`` blindly); log dates are
``YYYY-MM-DD HH:MM:SS.mmm`` and Validate's times ``MM:DD:YYYY HH:MM:SS``; ``record_count__sys`` is a
string; component entries carry both name sets (``component_name__v`` and ``name``/``type``/
``status``), as different Veeva tools read one or the other.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from vaultjobs.jobtypes.objects.records import Record
from vaultjobs.jobtypes.packages.checks import LABELS, PackageCheck
from vaultjobs.jobtypes.packages.inbound import InboundPackage, InboundStep, picklist_value
from vaultjobs.objects.values import to_json_value
from vaultjobs.store.object_files import StoredFile

#: Step status → the deploy results counter it adds to.
COUNTERS = {
    "deployed__v": "deployed",
    "deployed_with_warning__v": "deployed_with_warnings",
    "deployed_with_failures__v": "deployed_with_failures",
    "deployed_with_error__v": "deployed_with_error",
    "error__v": "failed",
    "failed_with_partial_commit__v": "failed",
    "skipped__v": "skipped",
}


def log_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def validate_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%m:%d:%Y %H:%M:%S")


def attachment_url(base: str, version: str, package_id: str, file: StoredFile) -> str:
    return f"{base}/api/{version}/vobjects/vault_package__v/{package_id}/attachments/{file.id}/versions/1/file"


def log_entry(base: str, version: str, package_id: str, file: StoredFile) -> dict[str, str]:
    return {"filename": file.filename, "url": attachment_url(base, version, package_id, file),
            "created_date__v": log_date(file.created_at)}


def latest(files: list[StoredFile], suffix: str) -> StoredFile | None:
    return next((f for f in reversed(files) if f.filename.endswith(suffix)), None)


def _value(record: Record, name: str) -> Any:
    return to_json_value(record.values.get(name))


def step_payload(step: InboundStep) -> dict[str, Any]:
    r = step.record
    message = r.values.get("deployment_message__v")
    return {
        "id": r.id,
        "name__v": step.number,
        "step_type__v": _value(r, "step_type__v"),
        "step_label__v": _value(r, "step_label__v"),
        "step_name__v": _value(r, "step_name__v"),
        "type__v": _value(r, "type__v"),
        "deployment_status__v": step.status,
        "deployment_action": _value(r, "deployment_action__v"),
        "deployment_message__v": message,
        "package_components": [_component(c, step) for c in step.components],
        "package_data": [_data(d) for d in step.data],
        "package_code": [],
    }


def _component(c: Record, step: InboundStep) -> dict[str, Any]:
    status = picklist_value(c.values.get("deployment_status__v")) or step.status
    name, kind = _value(c, "component_name__v"), _value(c, "component_type__v")
    return {
        "id": c.id, "name__v": _value(c, "name__v"), "component_name__v": name, "component_type__v": kind,
        "checksum__v": _value(c, "checksum__v"), "deployment_status__v": status,
        # The names an older Veeva tool reads.
        "name": name, "type": kind, "status": status, "step": step.number,
        "response_message": step.record.values.get("deployment_message__v") or "",
    }


def _data(d: Record) -> dict[str, Any]:
    return {
        "id": d.id, "name__v": _value(d, "name__v"), "object__v": _value(d, "object__v"),
        "data_type__v": _value(d, "data_type__v"), "data_action__v": _value(d, "data_action__v"),
        "record_migration_mode__sys": bool(d.values.get("record_migration_mode__sys")),
        "record_count__sys": str(d.values.get("record_count__sys") or "0"),
        "checksum__v": _value(d, "checksum__v"),
    }


def import_results(package: InboundPackage, logs: list[StoredFile], *, base: str, version: str) -> dict[str, Any]:
    validation = [f for f in logs if f.filename.endswith("Validation.log")]
    return {"responseStatus": "SUCCESS", "vaultPackage": {
        "id": package.id,
        "name": package.name,
        "status": picklist_value(package.record.values.get("status__v")),
        "package_status": package.status,
        "log": [log_entry(base, version, package.id, f) for f in validation],
        "package_steps": [step_payload(s) for s in package.steps],
        "package_code": [],
    }}


def validate_response(check: PackageCheck, *, name: str, started: datetime, ended: datetime,
                      package_id: str | None = None, step_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """Validate Package (``package_id`` None: ``"N/A"``) and Validate Inbound Package, with labels."""
    manifest = check.package.manifest
    steps = []
    for s in check.steps:
        entry: dict[str, Any] = {}
        if step_ids is not None:
            entry["id"] = step_ids.get(s.step.number)
        entry.update({
            "name__v": s.step.number, "step_type__v": s.step.step_type, "step_label__v": s.label,
            "step_name__v": s.name, "type__v": s.type, "deployment_status__v": LABELS.get(s.status, s.status),
            "deployment_action": s.action,
            "dependencies": [{"component_name": d.dependency.target_name, "component_type": d.dependency.target_type,
                              "subcomponent_name": d.dependency.target_sub_name,
                              "subcomponent_type": d.dependency.target_sub_type, "status": d.status}
                             for d in s.dependencies],
        })
        if s.message:
            entry["validation_message"] = s.message
        steps.append(entry)
    details: dict[str, Any] = {
        "summary": manifest.summary, "author": manifest.author, "package_name": name,
        "package_id": package_id or "N/A", "source_vault": manifest.source_vault,
        "package_status": LABELS[check.status], "total_steps": len(check.steps),
        "total_steps_blocked": check.blocked,
    }
    if package_id is not None:
        details["total_component_steps_blocked"] = check.blocked
    details.update({"start_time": validate_time(started), "end_time": validate_time(ended), "package_error": "",
                    "package_steps": steps})
    return {"responseStatus": "SUCCESS", "responseDetails": details}


def deploy_results(package: InboundPackage, logs: list[StoredFile], data_logs: list[StoredFile], *, base: str,
                   version: str, data_log_url: Any) -> dict[str, Any]:
    counts = Counter(COUNTERS[s.status] for s in package.steps if s.status in COUNTERS)
    details: dict[str, Any] = {"total_steps": len(package.steps)}
    for key in ("deployed", "deployed_with_warnings", "deployed_with_failures", "deployed_with_error", "failed",
                "skipped"):
        details[key] = counts.get(key, 0)
    details["package_status__v"] = package.status
    ordered = [f for f in (latest(logs, "Validation.log"), latest(logs, "Deployment.log")) if f is not None]
    details["deployment_log"] = [log_entry(base, version, package.id, f) for f in ordered]
    if data_logs:
        details["data_deployment_log"] = [{"filename": f.filename, "url": data_log_url(f)} for f in data_logs]
    return {"responseStatus": "SUCCESS", "responseDetails": details,
            "package_steps": [step_payload(s) for s in package.steps]}
