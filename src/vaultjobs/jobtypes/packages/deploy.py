"""Vault's Deploy Package job: each step of an inbound package applied in order.

A component step runs its MDL through the same engine as Execute MDL, all of it or nothing (a
statement that fails leaves the catalog as it was), and its step status is saved in the same
transaction as the catalog. A data step checks every row as the bulk record API does, then writes
the rows that passed, the step's status and its success/failure log in one transaction: a row that
fails is reported and does not stop the others (the step is ``deployed_with_failures__v``), a step
whose every row fails is ``error__v``. No step is ever half applied, so each step's status always
says what is in the store.

As in Vault, the first step that fails stops the deploy — the steps after it are ``skipped__v`` —
and what earlier steps did stays (no rollback); deploying the package again skips the steps
deployed already. That is also what makes the job idempotent: a worker killed mid-deploy leaves
every step either applied with its status or untouched, and the job run again goes on from the
first step not deployed. A component type vaultjobs has no engine for fails its step, naming it.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vaultjobs import errors
from vaultjobs.api.routes import result_links
from vaultjobs.jobtypes.objects.tables import write_csv
from vaultjobs.jobtypes.packages.checks import missing_blocks
from vaultjobs.jobtypes.packages.inbound import DEPLOYED, InboundPackage, InboundStep
from vaultjobs.jobtypes.packages.logs import DeploymentLog
from vaultjobs.jobtypes.packages.service import PackageService, service_of
from vaultjobs.models import Job, User
from vaultjobs.objects.mdl import COMPONENT_TYPES
from vaultjobs.packages import ComponentStep, DataStep, read_vpk
from vaultjobs.sdk import JobContext, ProcessorError, Task, processor
from vaultjobs.store.object_files import ATTACHMENT, DATA_LOG, NewFile
from vaultjobs.store.objects import RecordConflict, RecordWrite

PROCESSOR = "deploy_package"
BATCH = 500
#: Package statuses from which a deploy may start (a blocked package must be fixed and imported
#: again; a deployed one has nothing left to do).
DEPLOYABLE = frozenset({"verified__v", "error__v", "deployed_with_error__v", "in_deploy__v", "queued__v"})


def _links(job: Job, version: str) -> list[dict[str, str]]:
    package_id = job.parameters.get("package")
    href = f"/api/{version}/vobject/vault_package__v/{package_id}/actions/deploy/results"
    return [result_links.link("artifacts", href)]


result_links.register(PROCESSOR, _links)


@dataclass(frozen=True, kw_only=True, slots=True)
class StepResult:
    status: str
    message: str


def package_status(statuses: list[str]) -> str:
    """The package's status from its steps' (Vault's vocabulary, singular forms)."""
    done = [s for s in statuses if s in DEPLOYED]
    if any(s == "error__v" for s in statuses):
        return "deployed_with_error__v" if done else "error__v"
    if "deployed_with_failures__v" in statuses:
        return "deployed_with_failures__v"
    if "deployed_with_warning__v" in statuses:
        return "deployed_with_warning__v"
    return "deployed__v"


@processor(PROCESSOR, chunk_size=1, idempotent=True, timeout="4h", admin_cancellable=True)
class DeployPackage:
    """Deploy Package: applies an inbound package's steps to this vault."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        ctx.log(f"deploy of package {ctx.parameters['package']} requested by user {ctx.created_by}")
        return [{"package": ctx.parameters["package"]}]

    def process(self, ctx: JobContext, task: Task) -> None:
        service = service_of(ctx)
        user = service.store.users.get_user(ctx.created_by)
        if user is None:
            raise ProcessorError(f"user {ctx.created_by} no longer exists")
        failure = Deployment(service, ctx, user, str(task.items[0]["package"])).run()
        if failure:
            task.fail(failure)


class Deployment:
    def __init__(self, service: PackageService, ctx: JobContext, user: User, package_id: str) -> None:
        self.s = service
        self.ctx = ctx
        self.user = user
        self.package_id = package_id

    def _now(self) -> datetime:
        return self.s.clock.now()

    def run(self) -> str | None:
        """Deploy; the reason the job failed, or None."""
        inbound = self.s.inbound
        package = inbound.load(self.package_id)
        data = inbound.archive(self.package_id)
        if package is None or data is None:
            raise ProcessorError(f"package {self.package_id} or its file is missing")
        vpk = read_vpk(data)
        log = DeploymentLog(package.name, self.user.id, self._now())
        self._set_package(package, "in_deploy__v")
        pending = {s.number for s in package.steps if s.status not in DEPLOYED}
        blocked = missing_blocks(vpk, self.s.catalogs.current(), pending)
        failed: str | None = None
        if blocked:
            failed = "; ".join(f"step {n} {why}" for n, why in blocked.items())
            for step in package.steps:
                if step.number in blocked:
                    self._set_step(step, "blocked__v", blocked[step.number])
            log.note(f"The package is blocked: {failed}")
            return self._finish(log, "blocked__v", failed)
        for step in package.steps:
            spec = vpk.step(step.number)
            what = (spec.component if isinstance(spec, ComponentStep)
                    else f"data {step.record.values.get('step_name__v')}")
            if step.status in DEPLOYED:
                log.step(step.number, what, step.status, "deployed earlier; skipped")
                continue
            if failed is not None or self.ctx.cancelled:
                reason = "an earlier step failed" if failed else "the deploy was cancelled"
                self._set_step(step, "skipped__v", reason)
                log.step(step.number, what, "skipped__v", reason)
                continue
            self.ctx.heartbeat()
            if spec is None:
                result = self._fail(step, "the step is missing from the package file")
            elif isinstance(spec, ComponentStep):
                result = self._component(step, spec)
            else:
                result = self._data(step, spec)
            log.step(step.number, what, result.status, result.message)
            self.ctx.log(f"step {step.number} {what}: {result.status} {result.message}".rstrip())
            if result.status == "error__v":
                failed = f"step {step.number} ({what}) failed: {result.message}"
        reloaded = inbound.load(self.package_id)
        assert reloaded is not None
        if self.ctx.cancelled and failed is None:
            failed = "the deploy was cancelled"
        return self._finish(log, package_status([s.status for s in reloaded.steps]), failed)

    # -- steps -------------------------------------------------------------------------------------

    def _set_step(self, step: InboundStep, status: str, message: str) -> None:
        self.s.store.object_files.commit(replaces=[self._step_write(step, status, message)], by=self.user.id,
                                         now=self._now())

    def _step_write(self, step: InboundStep, status: str, message: str) -> RecordWrite:
        return self.s.inbound.changed(step.record, {"deployment_status__v": (status,),
                                                    "deployment_message__v": message[:32000] or None},
                                      self.user.id, self._now())

    def _fail(self, step: InboundStep, message: str) -> StepResult:
        self._set_step(step, "error__v", message)
        return StepResult(status="error__v", message=message)

    def _component(self, step: InboundStep, spec: ComponentStep) -> StepResult:
        if spec.extension != "mdl" or spec.component_type not in COMPONENT_TYPES:
            return self._fail(step, f"component type {spec.component_type} ({spec.extension}) is not supported "
                                    f"by vaultjobs, which deploys {', '.join(sorted(COMPONENT_TYPES))} MDL")
        applied = f"{spec.component} applied"
        done = self._step_write(step, "deployed__v", applied)
        try:
            execution = self.s.catalogs.execute(spec.text, self.user.id, all_or_nothing=True, also=[done])
        except errors.VaultError as exc:
            return self._fail(step, exc.message)
        failed = next((r for r in execution.results if not r.success), None)
        if failed is not None:
            return self._fail(step, f"statement {failed.statement} ({failed.command.value} {failed.component}) "
                                    f"failed: {failed.reason}; nothing of the step was applied")
        if not execution.saved:
            applied = f"{spec.component} already matched this vault; nothing to change"
            self._set_step(step, "deployed__v", applied)
        return StepResult(status="deployed__v", message=applied)

    def _data(self, step: InboundStep, spec: DataStep) -> StepResult:
        catalog = self.s.catalogs.current()
        definition = catalog.object(spec.object_name)
        if definition is None:
            return self._fail(step, f"object [{spec.object_name}] does not exist")
        rows = list(spec.records())
        claimed: dict[tuple[str, str], str] = {}
        inserts: list[RecordWrite] = []
        replaces: list[RecordWrite] = []
        successes: list[list[str]] = []
        failures: list[list[str]] = []
        columns = list(spec.columns)
        for start in range(0, len(rows), BATCH):
            self.ctx.heartbeat()
            chunk = rows[start:start + BATCH]
            try:
                outcomes, new, changed = self.s.records.plan_create(
                    self.user, catalog, definition, chunk, origin="csv", id_param=spec.id_param, claimed=claimed)
            except errors.VaultError as exc:
                failures += [[str(start + i + 2), *[r.get(c, "") for c in columns], f"{exc.type}: {exc.message}"]
                             for i, r in enumerate(chunk)]
                continue
            inserts += new
            replaces += changed
            for i, (outcome, raw) in enumerate(zip(outcomes, chunk, strict=True)):
                line = str(start + i + 2)
                if outcome.error is not None:
                    failures.append([line, *[raw.get(c, "") for c in columns],
                                     f"{outcome.error.type}: {outcome.error.message}"])
                else:
                    successes.append([line, outcome.id or "", outcome.event or "no_change"])
        if failures and not successes and rows:
            status = "error__v"
        else:
            status = "deployed_with_failures__v" if failures else "deployed__v"
        message = (f"{len(successes)} of {len(rows)} records loaded into {definition.name} ({spec.action})"
                   + (f", {len(failures)} failed" if failures else ""))
        logs = self._data_log(step, spec, columns, successes, failures)
        done = self._step_write(step, status, message)
        try:  # every row failing (error__v) leaves nothing to insert or replace but the step itself
            self.s.store.object_files.commit(inserts=inserts, replaces=[*replaces, done], files=[logs],
                                             by=self.user.id, now=self._now())
        except RecordConflict:
            return self._fail(step, "a record written meanwhile by someone else clashes with a unique value of "
                                    "this step; nothing of the step was loaded; deploy again")
        return StepResult(status=status, message=message)

    def _data_log(self, step: InboundStep, spec: DataStep, columns: list[str], successes: list[list[str]],
                  failures: list[list[str]]) -> NewFile:
        stamp = self._now().astimezone(UTC).strftime("%Y-%m-%d_%H_%M_%S")
        name = f"{self.ctx.job_id}_{step.number}_{spec.object_name}_{stamp}_Success_Failure_logs.zip"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{step.number}_{spec.object_name}_success.csv",
                             write_csv(["line number", "id", "event"], successes))
            archive.writestr(f"{step.number}_{spec.object_name}_failure.csv",
                             write_csv(["line number", *columns, "errors"], failures))
        return NewFile(record_id=self.package_id, kind=DATA_LOG, filename=name, body=out.getvalue(),
                       media_type="application/zip")

    # -- the package -------------------------------------------------------------------------------

    def _set_package(self, package: InboundPackage, status: str) -> None:
        write = self.s.inbound.changed(package.record, {"deployment_status__v": (status,)}, self.user.id, self._now())
        self.s.store.object_files.commit(replaces=[write], by=self.user.id, now=self._now())

    def _finish(self, log: DeploymentLog, status: str, failed: str | None) -> str | None:
        package = self.s.inbound.load(self.package_id)
        assert package is not None
        now = self._now()
        write = self.s.inbound.changed(package.record, {"deployment_status__v": (status,)}, self.user.id, now)
        text = log.finish(status, now)
        self.s.store.object_files.commit(
            replaces=[write],
            files=[NewFile(record_id=self.package_id, kind=ATTACHMENT, filename=f"{package.name}-Deployment.log",
                           body=text.encode("utf-8"))],
            by=self.user.id, now=now)
        self.ctx.log(f"package {package.name} ({package.id}): {status}")
        return failed
