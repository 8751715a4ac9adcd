"""Vault packages (``.vpk``): the file format, read and written with the standard library only, so
that a client-only install can build packages too.

:mod:`.vpk` reads and writes the archive (manifest, step folders, md5s, data steps) and builds one
from a folder. Importing, validating and deploying a package on the store is
:mod:`vaultjobs.jobtypes.packages`.
"""

from vaultjobs.packages.vpk import (
    ComponentStep,
    DataStep,
    Dependency,
    Manifest,
    Package,
    PackageFormatError,
    Step,
    build_directory,
    read_vpk,
    write_vpk,
)

__all__ = [
    "ComponentStep",
    "DataStep",
    "Dependency",
    "Manifest",
    "Package",
    "PackageFormatError",
    "Step",
    "build_directory",
    "read_vpk",
    "write_vpk",
]
