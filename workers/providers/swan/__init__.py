"""The Swan provider: the interface (:class:`Swan`), and the three ways to reach it, chosen
by ``COOPFLOW_SWAN_MODE``:

- ``sandbox`` (the default): the simulator of ``sandbox.py``, its world in the database
  and its identification page at ``/sandbox/swan/identification/<id>``, failing at the
  configured rates;
- ``live``: Swan's partner GraphQL API (``client.py``), its requests counted against
  Swan's limit by every worker together (``limiter.py``);
- ``manual``: no call, staff record the outcomes in the back-office (``manual.py``).
"""

from __future__ import annotations

from typing import Protocol

from workers.providers.swan.interface import Swan
from workers.providers.swan.manual import ManualSwan
from workers.providers.swan.sandbox import SandboxSwan
from workflows.engine.clock import Clock
from workflows.engine.db import Database

__all__ = ["ManualSwan", "SandboxSwan", "Swan", "SwanSettings", "make_swan"]

#: Where Swan sends back whoever consented to a sensitive operation (a trusted
#: beneficiary): the portal's home, under the platform's address.
CONSENT_RETURN_PATH = "/mon-espace"


class SwanSettings(Protocol):
    """The settings :func:`make_swan` reads (``coopflow.config.Settings`` has them)."""

    @property
    def swan_mode(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def broker_url(self) -> str: ...
    @property
    def swan_client_id(self) -> str | None: ...
    @property
    def swan_client_secret(self) -> str | None: ...
    @property
    def swan_graphql_url(self) -> str: ...
    @property
    def swan_oauth_url(self) -> str: ...
    @property
    def swan_timeout_seconds(self) -> float: ...
    @property
    def swan_rate_limit(self) -> int: ...
    @property
    def swan_rate_limit_seconds(self) -> float: ...
    @property
    def swan_sandbox_latency_ms(self) -> int: ...
    @property
    def swan_sandbox_error_rate(self) -> float: ...
    @property
    def swan_sandbox_timeout_rate(self) -> float: ...
    @property
    def swan_sandbox_429_rate(self) -> float: ...


def make_swan(settings: SwanSettings, db: Database, clock: Clock) -> Swan:
    """The Swan of this configuration (one per process, shared by its threads)."""
    if settings.swan_mode == "sandbox":
        return SandboxSwan(
            db,
            clock,
            base_url=settings.base_url,
            latency_ms=settings.swan_sandbox_latency_ms,
            error_rate=settings.swan_sandbox_error_rate,
            timeout_rate=settings.swan_sandbox_timeout_rate,
            too_many_rate=settings.swan_sandbox_429_rate,
        )
    if settings.swan_mode == "manual":
        return ManualSwan(db, clock)
    if settings.swan_mode == "live":
        # Only the live mode needs the HTTP client and the shared budget.
        from workers.providers.swan.client import GraphQLSwan
        from workers.providers.swan.limiter import make_budget

        if not (settings.swan_client_id and settings.swan_client_secret):
            raise ValueError("Swan en mode live : identifiants du projet Swan manquants.")
        redis_url = None if settings.broker_url.startswith("stub:") else settings.broker_url
        return GraphQLSwan(
            graphql_url=settings.swan_graphql_url,
            oauth_url=settings.swan_oauth_url,
            client_id=settings.swan_client_id,
            client_secret=settings.swan_client_secret,
            timeout=settings.swan_timeout_seconds,
            budget=make_budget(
                redis_url, settings.swan_rate_limit, settings.swan_rate_limit_seconds
            ),
            consent_redirect_url=settings.base_url.rstrip("/") + CONSENT_RETURN_PATH,
        )
    raise ValueError(f"COOPFLOW_SWAN_MODE inconnu : {settings.swan_mode!r}.")
