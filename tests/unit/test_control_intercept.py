"""The control plane's middleware costs nothing when it is off; what it records, it records safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultjobs.control.intercept import ControlIntercept, api_path
from vaultjobs.control.journal import error_type_of, redacted_headers
from vaultjobs.node import build_node
from vaultjobs.settings import Settings


@pytest.mark.parametrize("on", [False, True])
def test_the_middleware_is_there_only_with_the_control_plane(tmp_path: Path, on: bool) -> None:
    node = build_node(Settings(data_dir=tmp_path, control_plane=on))
    try:
        installed = [m.cls for m in node.app.user_middleware]
        assert (ControlIntercept in installed) is on
    finally:
        node.store.close()


def test_only_the_vault_api_is_intercepted() -> None:
    assert api_path({"path": "/api/v26.1/services/jobs/1", "root_path": ""}) == "/api/v26.1/services/jobs/1"
    assert api_path({"path": "/vault/api", "root_path": "/vault"}) == "/api"
    for path in ("/_vaultjobs/faults", "/ui/", "/apix", "/"):
        assert api_path({"path": path, "root_path": ""}) is None


def test_secrets_are_redacted_and_repeated_headers_joined() -> None:
    headers = redacted_headers([(b"Authorization", b"Bearer S3"), (b"cookie", b"sid=1"), (b"x-a", b"1"),
                                (b"X-A", b"2"), (b"x-vaultjobs-control-token", b"t")])
    assert headers == {"authorization": "[redacted]", "cookie": "[redacted]", "x-a": "1, 2",
                       "x-vaultjobs-control-token": "[redacted]"}


def test_the_error_type_is_read_from_json_and_xml_failures_only() -> None:
    json_body = b'{"responseStatus":"FAILURE","errors":[{"type":"INVALID_DATA","message":"m"}]}'
    xml_body = (b"<VaultResponse><responseStatus>EXCEPTION</responseStatus><errors><error>"
                b"<type>UNEXPECTED_ERROR</type></error></errors></VaultResponse>")
    assert error_type_of("FAILURE", "application/json", json_body) == "INVALID_DATA"
    assert error_type_of("EXCEPTION", "application/xml;charset=UTF-8", xml_body) == "UNEXPECTED_ERROR"
    assert error_type_of("SUCCESS", "application/json", json_body) is None
    assert error_type_of("FAILURE", "application/json", b"{not json") is None
    assert error_type_of(None, "text/plain", b"503 Service Unavailable") is None
