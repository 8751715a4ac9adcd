"""Validating a package against this vault: what Import, Validate and Deploy Package all check.

Two kinds of problem, kept apart because Vault's clients tell them apart:

* A **bad package** — MDL that does not parse, MDL that defines another component than its step
  names, a statement that cannot apply (it names an object, field or picklist that is neither in
  this vault nor made by an earlier step), a data step for an unknown object, a data column that is
  not a field of its object — raises :class:`~vaultjobs.packages.PackageFormatError`: the request
  fails with ``INVALID_DATA`` and nothing is stored.
* A **blocked step** — a ``.dep`` row with Blocking Type ``block__sys`` whose target is neither in the
  package nor in this vault — is an answer, not an error: the import succeeds with the package
  ``blocked__v`` (Vault's documented behaviour), and deploying it is refused.

A component type vaultjobs has no engine for (anything but ``Object`` and ``Picklist``, and every
``.json`` component) is neither: its step is ``not_supported__v``, the Validation.log says so, and a
deploy fails at that step naming it, never skipping it silently.

Every step is checked against the catalog as the steps before it leave it (a dry run of the MDL in
memory), so a package that creates an object and then loads its records validates on a vault that
has neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vaultjobs.objects import Catalog, ObjectDefinition
from vaultjobs.objects.mdl import COMPONENT_TYPES, MdlSyntaxError, apply, parse
from vaultjobs.packages import ComponentStep, DataStep, Dependency, Package, PackageFormatError, Step

VERIFIED = "verified__v"
BLOCKED = "blocked__v"
NOT_SUPPORTED = "not_supported__v"

#: Labels of the synchronous Validate answers (Vault shows labels there, names everywhere else).
LABELS = {
    "imported__v": "Imported", VERIFIED: "Verified", "not_verified__v": "Not Verified", BLOCKED: "Blocked",
    "queued__v": "Queued", "in_deploy__v": "In Deploy", "deployed__v": "Deployed",
    "deployed_with_warning__v": "Deployed with Warnings", "deployed_with_failures__v": "Deployed with Failures",
    "deployed_with_error__v": "Deployed with Errors", "failed_with_partial_commit__v": "Failed with Partial Commit",
    "error__v": "Error", "skipped__v": "Skipped", NOT_SUPPORTED: "Not Supported",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class DependencyCheck:
    dependency: Dependency
    #: ``In Package``, ``In Target``, ``Missing - Block`` or ``Missing - Ignore``.
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class StepCheck:
    step: Step
    status: str
    #: ``Add (missing in Vault)`` or ``Update`` for components, the data action for data steps.
    action: str
    dependencies: tuple[DependencyCheck, ...] = ()
    message: str = ""

    @property
    def name(self) -> str:
        """``step_name__v``: the component's or the data step's object name."""
        return self.step.component_name if isinstance(self.step, ComponentStep) else self.step.object_name

    @property
    def type(self) -> str:
        """``type__v``."""
        return self.step.component_type if isinstance(self.step, ComponentStep) else "Object"

    @property
    def label(self) -> str:
        return self.step.label


@dataclass(frozen=True, kw_only=True, slots=True)
class PackageCheck:
    package: Package
    steps: tuple[StepCheck, ...] = field(default=())

    @property
    def status(self) -> str:
        return BLOCKED if any(s.status == BLOCKED for s in self.steps) else VERIFIED

    @property
    def blocked(self) -> int:
        return sum(1 for s in self.steps if s.status == BLOCKED)


def check_package(package: Package, catalog: Catalog, *, skip: frozenset[str] = frozenset()) -> PackageCheck:
    """Check every step of ``package`` in order against ``catalog``; :class:`PackageFormatError` for a
    bad package. Steps named in ``skip`` (deployed already) are taken as applied: only their MDL runs,
    so that the steps after them see what they made."""
    in_package = _components_of(package)
    checks: list[StepCheck] = []
    current = catalog
    blocked: StepCheck | None = None
    for step in package.steps:
        try:
            if isinstance(step, ComponentStep):
                check, current = _check_component(step, catalog, current, in_package, step.number in skip)
            else:
                check = _check_data(step, current)
        except PackageFormatError as exc:
            if blocked is None:
                raise
            # What a blocked step would have made is missing, so the steps after it may not check:
            # blocked by it, not bad.
            check = StepCheck(step=step, status=BLOCKED, action=_action(step, catalog),
                              message=f"blocked by step {blocked.step.number}, which this step may need ({exc})")
        if check.status == BLOCKED and blocked is None:
            blocked = check
        checks.append(check)
    return PackageCheck(package=package, steps=tuple(checks))


def _components_of(package: Package) -> set[str]:
    """``Type.name`` of every component the package defines or loads records into."""
    return {s.component for s in package.steps if isinstance(s, ComponentStep)} | {
        f"Object.{s.object_name}" for s in package.steps if isinstance(s, DataStep)
    }


def _action(step: Step, catalog: Catalog) -> str:
    if isinstance(step, DataStep):
        return step.action
    return "Update" if catalog.has_component(step.component_type, step.component_name) else "Add (missing in Vault)"


def _check_component(step: ComponentStep, vault: Catalog, current: Catalog, in_package: set[str],
                     deployed: bool) -> tuple[StepCheck, Catalog]:
    where = f"Step {step.number} ({step.component})"
    dependencies = tuple(_check_dependency(d, vault, in_package) for d in step.dependencies)
    action = _action(step, vault)
    missing = [d for d in dependencies if d.status == "Missing - Block"]
    if missing:
        names = ", ".join(f"{d.dependency.target_type}.{d.dependency.target_name}" for d in missing)
        message = f"blocked: the component(s) {names} it depends on are missing from this vault"
        # Still applied in the dry run where it can be, so that the steps after it check against it.
        after = current
        if step.extension == "mdl" and step.component_type in COMPONENT_TYPES:
            try:
                after, _ = apply(current, parse(step.text))
            except MdlSyntaxError as exc:
                raise PackageFormatError(f"{where}: MDL syntax error: {exc}") from exc
        return StepCheck(step=step, status=BLOCKED, action=action, dependencies=dependencies, message=message), after
    if step.extension != "mdl" or step.component_type not in COMPONENT_TYPES:
        return StepCheck(step=step, status=NOT_SUPPORTED, action=action, dependencies=dependencies,
                         message=f"component type {step.component_type} ({step.extension}) is not supported by "
                                 f"vaultjobs, which deploys {', '.join(sorted(COMPONENT_TYPES))} MDL; deploying "
                                 "this step will fail"), current
    try:
        statements = parse(step.text)
    except MdlSyntaxError as exc:
        raise PackageFormatError(f"{where}: MDL syntax error: {exc}") from exc
    if not statements:
        raise PackageFormatError(f"{where}: the .mdl file holds no statement")
    for statement in statements:
        if statement.label != step.component:
            raise PackageFormatError(
                f"{where}: statement {statement.number} changes {statement.label}, not the step's component"
            )
    after, results = apply(current, statements)
    failed = next((r for r in results if not r.success), None)
    if failed is not None and not deployed:
        raise PackageFormatError(f"{where}: statement {failed.statement} ({failed.command.value} "
                                 f"{failed.component}) cannot apply: {failed.reason}")
    return StepCheck(step=step, status=VERIFIED, action=action, dependencies=dependencies), after


def _check_dependency(dependency: Dependency, vault: Catalog, in_package: set[str]) -> DependencyCheck:
    target = f"{dependency.target_type}.{dependency.target_name}"
    if dependency.in_package or target in in_package:
        return DependencyCheck(dependency=dependency, status="In Package")
    if _exists(vault, dependency.target_type, dependency.target_name, dependency.target_sub_type,
               dependency.target_sub_name):
        return DependencyCheck(dependency=dependency, status="In Target")
    return DependencyCheck(dependency=dependency,
                           status="Missing - Block" if dependency.blocking else "Missing - Ignore")


def _exists(catalog: Catalog, kind: str, name: str, sub_kind: str, sub_name: str) -> bool:
    """Whether a dependency's target — a component, or a field or picklist entry of one — is here."""
    if not catalog.has_component(kind, name):
        return False
    if not sub_name:
        return True
    if kind == "Object":
        found = catalog.object(name)
        return sub_kind != "Field" or (found is not None and found.field(sub_name) is not None)
    picklist = catalog.picklist(name)
    return picklist is not None and any(e.name == sub_name for e in picklist.entries)


def _check_data(step: DataStep, catalog: Catalog) -> StepCheck:
    where = f"Step {step.number} ({step.label})"
    definition = catalog.object(step.object_name)
    if definition is None:
        raise PackageFormatError(
            f"{where}: object [{step.object_name}] is neither in this vault nor created by an earlier step"
        )
    unknown = [c for c in step.columns if not _is_column(catalog, definition, c)]
    if unknown:
        raise PackageFormatError(
            f"{where}: the column(s) {', '.join(unknown[:10])} of the data file are not fields of "
            f"[{definition.name}]"
        )
    if step.id_param is not None:
        unique = definition.field(step.id_param)
        if unique is None or not unique.unique:
            raise PackageFormatError(
                f"{where}: <idparam> [{step.id_param}] is not a unique field of [{definition.name}]"
            )
        if step.id_param not in step.columns:
            raise PackageFormatError(f"{where}: the data file has no [{step.id_param}] column for its Upsert")
    return StepCheck(step=step, status=VERIFIED, action=step.action,
                     message=f"{step.record_count} records to {step.action.lower()}")


def _is_column(catalog: Catalog, definition: ObjectDefinition, column: str) -> bool:
    if "." not in column:
        return definition.field(column) is not None
    relationship, _, target_field = column.partition(".")
    reference = next((f for f in definition.reference_fields if f.relationship_outbound_name == relationship), None)
    if reference is None or reference.object is None:
        return False
    target = catalog.object(reference.object)
    return target is not None and (target_field == "id" or target.field(target_field) is not None)


def missing_blocks(package: Package, catalog: Catalog, pending: set[str]) -> dict[str, str]:
    """The ``pending`` component steps whose ``block__sys`` dependencies are now missing from
    ``catalog`` (Deploy checks again: the vault may have changed since the import), with why."""
    in_package = _components_of(package)
    out: dict[str, str] = {}
    for step in package.steps:
        if step.number not in pending or not isinstance(step, ComponentStep):
            continue
        missing = [d for d in step.dependencies
                   if _check_dependency(d, catalog, in_package).status == "Missing - Block"]
        if missing:
            out[step.number] = "blocked: missing " + ", ".join(f"{d.target_type}.{d.target_name}" for d in missing)
    return out
