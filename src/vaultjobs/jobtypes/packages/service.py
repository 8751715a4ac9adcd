"""Import and validation of packages, shared by the endpoints and the Import Package job.

The import request reads and checks the whole file before it answers (a bad package fails at once
with ``INVALID_DATA`` and nothing is kept), keeps the .vpk under a package id it allocates, and
starts the job; the job creates the package records from the kept file. When this vault's catalog
changed in between so that the package no longer checks, the job still creates the package, with
status ``error__v`` and a Validation.log that says why, so that its result link is never dangling.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultjobs import errors
from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.jobtypes.objects.records import Records
from vaultjobs.jobtypes.packages.checks import PackageCheck, check_package
from vaultjobs.jobtypes.packages.inbound import InboundPackage, InboundPackages
from vaultjobs.jobtypes.packages.logs import validation_log
from vaultjobs.packages import Package, PackageFormatError, read_vpk
from vaultjobs.sdk import JobContext
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock

#: The largest package accepted (Vault's Validate Package allows 2 GB; vaultjobs keeps packages in
#: its database, so it takes less).
MAX_PACKAGE_BYTES = 512 * 1024**2
ERROR = "error__v"


@dataclass(frozen=True, kw_only=True, slots=True)
class Imported:
    package: InboundPackage
    #: Why the package ended ``error__v`` (None when it was imported).
    problem: str | None = None


class PackageService:
    def __init__(self, store: Store, clock: Clock, catalogs: CatalogService | None = None) -> None:
        self.store = store
        self.clock = clock
        self.catalogs = catalogs or CatalogService(store, clock)
        self.records = Records(store, self.catalogs, clock)
        self.inbound = InboundPackages(self.records)

    def check(self, data: bytes) -> PackageCheck:
        """``data`` read and checked against this vault; ``INVALID_DATA`` naming the problem."""
        try:
            return check_package(read_vpk(data), self.catalogs.current())
        except PackageFormatError as exc:
            raise errors.InvalidData(str(exc)) from exc

    def check_inbound(self, package_id: str) -> tuple[InboundPackage, PackageCheck]:
        package = self.require(package_id)
        data = self.inbound.archive(package_id)
        if data is None:
            raise errors.OperationNotAllowed(f"Package [{package_id}] has no file to validate")
        return package, self.check(data)

    def require(self, package_id: str) -> InboundPackage:
        found = self.inbound.load(package_id) if len(package_id) == 15 else None
        if found is None:
            raise errors.InvalidData(f"Package [{package_id[:40]}] does not exist")
        return found

    def start(self, data: bytes, filename: str, user_id: int) -> tuple[str, PackageCheck]:
        """Check ``data`` and keep it under a new package id, for the import job."""
        check = self.check(data)
        package_id = self.inbound.allocate_id()
        self.inbound.keep_archive(package_id, filename, data, by=user_id, now=self.clock.now())
        return package_id, check

    def import_kept(self, package_id: str, user_id: int) -> Imported:
        """Create the package ``package_id`` from its kept file; nothing when it exists already."""
        found = self.inbound.load(package_id)
        if found is not None:
            return Imported(package=found)
        data = self.inbound.archive(package_id)
        if data is None:
            raise errors.OperationNotAllowed(f"The file of package [{package_id}] is missing")
        now = self.clock.now()
        package = read_vpk(data)
        name = self.inbound.unused_name(package.manifest.name)
        problem: str | None = None
        try:
            check = check_package(package, self.catalogs.current())
            status, log = check.status, validation_log(check, name=name, user_id=user_id, now=now)
        except PackageFormatError as exc:
            problem = str(exc)
            check = PackageCheck(package=Package(manifest=package.manifest, steps=()))
            status, log = ERROR, f"Package {name} could not be imported: {problem}\n"
        self.inbound.create(package_id, name, check, status=status, validation_log=log, by=user_id, now=now)
        created = self.inbound.load(package_id)
        assert created is not None
        return Imported(package=created, problem=problem)


def service_of(ctx: JobContext) -> PackageService:
    if ctx.content is None:
        raise RuntimeError("this node's store has no content repository")
    return PackageService(ctx.content.store, ctx.content.clock)
