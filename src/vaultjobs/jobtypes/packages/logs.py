"""The text of a package's Validation.log and Deployment.log: one line per step, saying what was found
or done and why, so that an admin who downloads the log needs nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from vaultjobs.jobtypes.packages.checks import LABELS, PackageCheck
from vaultjobs.packages import ComponentStep


def _when(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def validation_log(check: PackageCheck, *, name: str, user_id: int, now: datetime) -> str:
    manifest = check.package.manifest
    lines = [
        f"Package {name} ({manifest.package_type}) validated {_when(now)} for user {user_id}",
        f"Source vault: {manifest.source_vault or '-'}; author: {manifest.author or '-'}",
        f"Steps: {len(check.steps)}; blocked: {check.blocked}",
        "",
    ]
    for s in check.steps:
        what = s.step.component if isinstance(s.step, ComponentStep) else f"Object data {s.name} ({s.label})"
        line = f"Step {s.step.number} {s.step.step_type} {what}: {LABELS.get(s.status, s.status)} - {s.action}"
        if s.message:
            line += f" - {s.message}"
        lines.append(line)
        for d in s.dependencies:
            target = f"{d.dependency.target_type}.{d.dependency.target_name}"
            if d.dependency.target_sub_name:
                target += f".{d.dependency.target_sub_name}"
            lines.append(f"    depends on {target} ({d.dependency.blocking_type}): {d.status}")
    lines += ["", f"Package status: {LABELS[check.status]}", ""]
    return "\n".join(lines)


class DeploymentLog:
    """The Deployment.log of one deploy, written as the steps go."""

    def __init__(self, name: str, user_id: int, now: datetime) -> None:
        self.lines = [f"Deployment of package {name} started {_when(now)} by user {user_id}", ""]

    def step(self, number: str, what: str, status: str, message: str = "") -> None:
        line = f"Step {number} {what}: {LABELS.get(status, status)}"
        self.lines.append(f"{line} - {message}" if message else line)

    def note(self, message: str) -> None:
        self.lines.append(message)

    def finish(self, status: str, now: datetime) -> str:
        self.lines += ["", f"Package status: {LABELS.get(status, status)}", f"Ended {_when(now)}", ""]
        return "\n".join(self.lines)
