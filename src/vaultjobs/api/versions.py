"""The API versions this server answers to (v15.0 to the newest), as Vault lists them."""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

from vaultjobs.errors import MalformedUrl, MethodNotSupported

VERSION_PATTERN = re.compile(r"^v(\d+)\.(\d+)$")

SUPPORTED_VERSIONS: tuple[str, ...] = (
    "v15.0",
    "v16.0",
    "v17.1",
    "v17.2",
    "v17.3",
    *(f"v{year}.{n}" for year in range(18, 26) for n in (1, 2, 3)),
    "v26.1",
)
NEWEST_VERSION = SUPPORTED_VERSIONS[-1]
_SUPPORTED = frozenset(SUPPORTED_VERSIONS)


def check_version(version: str) -> str:
    """``version`` when this server answers to it; MALFORMED_URL when it is not a version at all."""
    if not VERSION_PATTERN.match(version):
        raise MalformedUrl(f"The resource [/api/{version}] could not be found; versions look like {NEWEST_VERSION}")
    if version not in _SUPPORTED:
        raise MethodNotSupported(
            f"API version [{version}] is not supported; this server answers {SUPPORTED_VERSIONS[0]} "
            f"to {NEWEST_VERSION}"
        )
    return version


class VersionConvertor(Convertor[str]):
    """``{version:api_version}`` in a route path: only ``vN.N`` segments match, others are unknown paths."""

    regex = r"v[0-9]+\.[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("api_version", VersionConvertor())
