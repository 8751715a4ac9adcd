"""Execute MDL Script's answer, built from the statement results.

Shape as Vault documents it for success. For failures, which Vault does not show [I]: each failed
statement answers ``"response": "FAILURE"`` with ``"[FAILURE] COMMAND Type name: reason"`` as its
message; ``script_execution`` counts them in ``failures``, its ``code`` is ``GEN-F-0`` and its
``message`` says how many failed; the envelope's ``responseStatus`` is then ``FAILURE``. A script that
does not parse applies nothing and answers the ordinary failure envelope (``INVALID_DATA`` with the
line and column), since no statement ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaultjobs.objects.mdl.apply import StatementResult

SUCCESS_CODE = "GEN-S-0"
FAILURE_CODE = "GEN-F-0"


def script_execution(results: Sequence[StatementResult], execution_time: float) -> dict[str, Any]:
    failures = sum(1 for r in results if not r.success)
    return {
        "code": FAILURE_CODE if failures else SUCCESS_CODE,
        "message": f"{failures} of {len(results)} statements failed" if failures else "OK",
        "warnings": 0,
        "failures": failures,
        "exceptions": 0,
        "components_affected": len({r.component for r in results if r.success}),
        "execution_time": round(execution_time, 3),
    }


def statement_execution(results: Sequence[StatementResult], vault: str) -> list[dict[str, Any]]:
    return [
        {
            "vault": vault,
            "statement": r.statement,
            "command": r.command.value,
            "component": r.component,
            "message": r.message,
            "response": "SUCCESS" if r.success else "FAILURE",
        }
        for r in results
    ]


def render_execution(results: Sequence[StatementResult], *, vault: str, execution_time: float) -> dict[str, Any]:
    """The whole body of Execute MDL Script (and of Retrieve Asynchronous MDL Script Results)."""
    failed = any(not r.success for r in results)
    return {
        "responseStatus": "FAILURE" if failed else "SUCCESS",
        "script_execution": script_execution(results, execution_time),
        "statement_execution": statement_execution(results, vault),
    }
