"""What `VaultClient` and `AsyncVaultClient` have in common besides the flows: settings and state."""

from __future__ import annotations

from ._core import ClientCore
from ._models import RateLimitInfo, Session
from ._options import ClientOptionArgs, ClientOptions, merge_options
from ._polling import PollGate

__all__ = ["BaseClient"]


class BaseClient:
    """The options, the session and the telemetry of a client; the operations are on the subclasses."""

    def __init__(self, url: str | None, options: ClientOptions | None, settings: ClientOptionArgs) -> None:
        #: The options the client was built from (``options`` with the keywords laid over it).
        self.options = merge_options(options, url, settings)
        self._core = ClientCore.from_options(self.options)

    @property
    def base_url(self) -> str:
        return str(self._core.base_url)

    @property
    def api_version(self) -> str:
        return self._core.api_version

    @property
    def session(self) -> Session | None:
        """The current session (None before the first call when logging in with a password)."""
        return self._core.auth.session

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """Rate-limit telemetry of the most recent response."""
        return self._core.rate_limit

    @property
    def poll_gate(self) -> PollGate:
        return self._core.gate
