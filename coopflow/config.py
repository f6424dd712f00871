"""Every setting of coopflow, read once from ``COOPFLOW_*`` environment variables.

This is the only module that reads the environment (plus ``SENTRY_DSN``). A ``.env``
file in the working directory is read in development. Each setting is named here once,
with its type and its default.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


#: With a relay that reports (webhook secret set): it reports within minutes.
DEFAULT_MAIL_REPORT_WAIT = 900.0
#: The shortest ``COOPFLOW_SECRET_KEY`` accepted (bytes of its UTF-8 form).
SECRET_KEY_MIN_BYTES = 32
#: How coopflow reaches Swan (``workers/providers/swan``): its simulator, the real API,
#: or nobody (staff record the outcomes in the back-office).
SWAN_MODES = ("sandbox", "live", "manual")
#: Swan's own test environment: a live-mode deployment reaches production only when
#: told so (``COOPFLOW_SWAN_GRAPHQL_URL``); credentials of one never work on the other.
SWAN_SANDBOX_GRAPHQL_URL = "https://api.swan.io/sandbox-partner/graphql"
SWAN_OAUTH_URL = "https://oauth.swan.io/oauth2/token"


class ConfigurationError(ValueError):
    """A setting that coopflow refuses to start with; the message says which and why."""


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'coopflow.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    """The whole configuration; build it with :func:`load_settings` or directly in tests."""

    database_url: str = field(default_factory=_default_database_url)
    #: ``stub://`` (in-process, the embedded default) or ``redis://host:port/db``.
    broker_url: str = "stub://"
    #: Unset: emails are stored and shown in the back-office. ``smtp://host:port``: sent.
    smtp_url: str | None = None
    mail_from: str = "OCCE <ne-pas-repondre@occe.coop>"
    secret_key: str = ""
    #: The address mandataires reach the portal at, used in the links of emails.
    base_url: str = "http://127.0.0.1:5000"
    #: ``SENTRY_DSN`` (or ``COOPFLOW_SENTRY_DSN``): errors of web and workers go to Sentry.
    sentry_dsn: str | None = None
    #: Unset: ``/metrics`` answers 404. Set: Prometheus scrapes it with this bearer token.
    metrics_token: str | None = None
    #: Unset: ``/webhooks/mail`` answers 404. Set: the mail relay signs its delivery
    #: reports with it (HMAC-SHA256 of the body, ``X-Coopflow-Signature``).
    mail_webhook_secret: str | None = None
    #: How long a worker that may have handed an email to the server before dying waits
    #: for the relay's report on that Message-ID before sending it again (seconds; 0: no
    #: reports, send again at once). Default: 900 when ``mail_webhook_secret`` is set.
    mail_report_wait_seconds: float = 0.0
    environment: str = "development"
    #: Worker threads started inside ``coopflow serve`` (embedded mode).
    worker_threads: int = 4
    #: How long an idle in-process worker thread waits for a message before it looks
    #: whether it must stop (milliseconds; tests shorten it: each one stops a worker).
    worker_poll_ms: int = 100
    #: Seconds between two scheduler ticks.
    scheduler_interval: float = 5.0
    #: Step leases and backoff, in seconds (production defaults; tests shorten them).
    step_lease_seconds: float = 120.0
    step_publish_lease_seconds: float = 300.0
    step_backoff_seconds: float = 10.0
    step_backoff_max_seconds: float = 600.0
    #: Steps per broker message at most: a worker claims them in one statement and
    #: completes them in one transaction (1: one message per step).
    step_batch: int = 20
    #: Cookies only over HTTPS (on in production).
    secure_cookies: bool = False
    #: Storage of the login rate limiter (``memory://`` or ``redis://``; in the
    #: distributed mode Redis, by default the broker's).
    ratelimit_storage_url: str = "memory://"
    #: Reverse proxies in front of the web process whose ``X-Forwarded-For``/``-Proto``
    #: are believed (ProxyFix); 0: none, the client is the connection's address.
    trusted_proxies: int = 0
    #: A staff session ends after this many minutes without a request.
    staff_idle_minutes: float = 30.0
    log_level: str = "INFO"
    #: ``sandbox`` (the simulated Swan of ``swan_sandbox_objects``, with its identification
    #: page), ``live`` (Swan's GraphQL API) or ``manual`` (no call: staff record outcomes).
    swan_mode: str = "sandbox"
    #: The live mode's OAuth2 client credentials (required there).
    swan_client_id: str | None = None
    swan_client_secret: str | None = None
    swan_graphql_url: str = SWAN_SANDBOX_GRAPHQL_URL
    swan_oauth_url: str = SWAN_OAUTH_URL
    #: Unset: ``/webhooks/swan`` answers 404. Set: Swan sends it in ``x-swan-secret``.
    swan_webhook_secret: str | None = None
    #: Every call to Swan gives up after this many seconds (connect and read).
    swan_timeout_seconds: float = 10.0
    #: Requests to Swan per window, shared by every worker (Swan's: 2,000 per 5 minutes).
    swan_rate_limit: int = 2000
    swan_rate_limit_seconds: float = 300.0
    #: The sandbox's injected faults: a delay before every call, and the share of calls
    #: answered HTTP 500, timed out after doing the work, or refused with a 429.
    swan_sandbox_latency_ms: int = 0
    swan_sandbox_error_rate: float = 0.0
    swan_sandbox_timeout_rate: float = 0.0
    swan_sandbox_429_rate: float = 0.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("stub:")

    @property
    def embedded_default(self) -> bool:
        """One process on one machine (SQLite, in-process broker): ``make run``."""
        return self.is_sqlite and self.embedded_broker

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(environ: dict[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read the settings from the environment (and ``.env`` when ``dotenv``)."""
    if environ is None:
        if dotenv:
            from dotenv import load_dotenv

            load_dotenv(Path.cwd() / ".env", override=False)
        environ = dict(os.environ)

    def get(name: str) -> str | None:
        value = environ.get(f"COOPFLOW_{name}")
        return value if value not in (None, "") else None

    defaults = Settings()
    database_url = get("DATABASE_URL") or defaults.database_url
    broker_url = get("BROKER_URL") or defaults.broker_url
    embedded_default = Settings(database_url=database_url, broker_url=broker_url).embedded_default
    secret_key = _secret_key(get("SECRET_KEY"), embedded_default)
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        smtp_url=get("SMTP_URL"),
        mail_from=get("MAIL_FROM") or defaults.mail_from,
        secret_key=secret_key,
        base_url=(get("BASE_URL") or defaults.base_url).rstrip("/"),
        sentry_dsn=environ.get("SENTRY_DSN") or get("SENTRY_DSN"),
        metrics_token=get("METRICS_TOKEN"),
        mail_webhook_secret=get("MAIL_WEBHOOK_SECRET"),
        mail_report_wait_seconds=float(
            get("MAIL_REPORT_WAIT_SECONDS")
            or (DEFAULT_MAIL_REPORT_WAIT if get("MAIL_WEBHOOK_SECRET") else 0)
        ),
        environment=get("ENVIRONMENT") or defaults.environment,
        worker_threads=int(get("WORKER_THREADS") or defaults.worker_threads),
        scheduler_interval=float(get("SCHEDULER_INTERVAL") or defaults.scheduler_interval),
        step_lease_seconds=float(get("STEP_LEASE_SECONDS") or defaults.step_lease_seconds),
        step_publish_lease_seconds=float(
            get("STEP_PUBLISH_LEASE_SECONDS") or defaults.step_publish_lease_seconds
        ),
        step_backoff_seconds=float(get("STEP_BACKOFF_SECONDS") or defaults.step_backoff_seconds),
        step_backoff_max_seconds=float(
            get("STEP_BACKOFF_MAX_SECONDS") or defaults.step_backoff_max_seconds
        ),
        step_batch=max(1, int(get("STEP_BATCH") or defaults.step_batch)),
        secure_cookies=_bool(get("SECURE_COOKIES") or "false"),
        ratelimit_storage_url=_ratelimit_storage(get("RATELIMIT_STORAGE_URL"), broker_url),
        trusted_proxies=_count("TRUSTED_PROXIES", get("TRUSTED_PROXIES") or "0"),
        staff_idle_minutes=float(get("STAFF_IDLE_MINUTES") or defaults.staff_idle_minutes),
        log_level=get("LOG_LEVEL") or defaults.log_level,
        **_swan_settings(get),
    )


def _swan_settings(get: Callable[[str], str | None]) -> dict[str, Any]:
    """The ``COOPFLOW_SWAN_*`` settings, checked: a mistyped mode or rate must stop the
    start, not quietly run the wrong Swan."""
    defaults = Settings()
    mode = (get("SWAN_MODE") or defaults.swan_mode).strip().lower()
    if mode not in SWAN_MODES:
        raise ConfigurationError(
            f"COOPFLOW_SWAN_MODE inconnu : {mode!r} (valeurs possibles : sandbox, live, manual)."
        )
    if mode == "sandbox" and (get("ENVIRONMENT") or "").strip().lower() == "production":
        # The simulated bank's page lets whoever holds a membership id mark an identity
        # verified: never in production, even by a forgotten setting.
        raise ConfigurationError(
            "COOPFLOW_ENVIRONMENT=production refuse le Swan simulé : choisissez "
            "COOPFLOW_SWAN_MODE=live (avec les identifiants du projet) ou manual."
        )
    client_id, client_secret = get("SWAN_CLIENT_ID"), get("SWAN_CLIENT_SECRET")
    if mode == "live" and not (client_id and client_secret):
        raise ConfigurationError(
            "COOPFLOW_SWAN_MODE=live demande COOPFLOW_SWAN_CLIENT_ID et "
            "COOPFLOW_SWAN_CLIENT_SECRET (les identifiants du projet Swan)."
        )
    timeout = _number("SWAN_TIMEOUT_SECONDS", get("SWAN_TIMEOUT_SECONDS"))
    if timeout is not None and timeout <= 0:
        raise ConfigurationError("COOPFLOW_SWAN_TIMEOUT_SECONDS doit être un nombre positif.")
    period = _number("SWAN_RATE_LIMIT_SECONDS", get("SWAN_RATE_LIMIT_SECONDS"))
    if period is not None and period <= 0:
        raise ConfigurationError("COOPFLOW_SWAN_RATE_LIMIT_SECONDS doit être un nombre positif.")
    limit = _count("SWAN_RATE_LIMIT", get("SWAN_RATE_LIMIT") or str(defaults.swan_rate_limit))
    if limit < 1:
        raise ConfigurationError("COOPFLOW_SWAN_RATE_LIMIT doit être au moins 1.")
    latency = _count("SWAN_SANDBOX_LATENCY_MS", get("SWAN_SANDBOX_LATENCY_MS") or "0")
    rates = {
        name: _rate(f"SWAN_SANDBOX_{suffix}", get(f"SWAN_SANDBOX_{suffix}"))
        for name, suffix in (
            ("swan_sandbox_error_rate", "ERROR_RATE"),
            ("swan_sandbox_timeout_rate", "TIMEOUT_RATE"),
            ("swan_sandbox_429_rate", "429_RATE"),
        )
    }
    if sum(rates.values()) > 1:
        raise ConfigurationError(
            "Les taux COOPFLOW_SWAN_SANDBOX_ERROR_RATE, _TIMEOUT_RATE et _429_RATE ne "
            "peuvent dépasser 1 à eux trois (chaque appel a au plus une panne)."
        )
    return {
        "swan_mode": mode,
        "swan_client_id": client_id,
        "swan_client_secret": client_secret,
        "swan_graphql_url": get("SWAN_GRAPHQL_URL") or defaults.swan_graphql_url,
        "swan_oauth_url": get("SWAN_OAUTH_URL") or defaults.swan_oauth_url,
        "swan_webhook_secret": get("SWAN_WEBHOOK_SECRET"),
        "swan_timeout_seconds": timeout or defaults.swan_timeout_seconds,
        "swan_rate_limit": limit,
        "swan_rate_limit_seconds": period or defaults.swan_rate_limit_seconds,
        "swan_sandbox_latency_ms": latency,
        **rates,
    }


def _number(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ConfigurationError(f"COOPFLOW_{name} doit être un nombre : {value!r}.")
    return number


def _rate(name: str, value: str | None) -> float:
    """A share of calls, between 0 and 1 (``0.05``: one call in twenty)."""
    rate = _number(name, value) or 0.0
    if not 0 <= rate <= 1:
        raise ConfigurationError(
            f"COOPFLOW_{name} doit être compris entre 0 et 1 (0.05 : un appel sur vingt)."
        )
    return rate


def _count(name: str, value: str) -> int:
    if not value.strip().isdigit():
        raise ConfigurationError(f"COOPFLOW_{name} doit être un nombre entier positif ou nul.")
    return int(value)


def _secret_key(given: str | None, embedded_default: bool) -> str:
    """The key given; else, only in the embedded default, one kept under ``instance/``.

    Elsewhere each machine would make its own (links signed by a worker would fail on
    the web machine, sessions would not survive a change of machine): refused."""
    if given is not None:
        if len(given.encode()) < SECRET_KEY_MIN_BYTES and not embedded_default:
            raise ConfigurationError(
                f"COOPFLOW_SECRET_KEY est trop courte ({len(given.encode())} octets) : "
                f'il en faut au moins {SECRET_KEY_MIN_BYTES} (python3 -c "import secrets; '
                'print(secrets.token_urlsafe(48))").'
            )
        return given
    if not embedded_default:
        raise ConfigurationError(
            "COOPFLOW_SECRET_KEY n'est pas définie : hors du mode intégré (SQLite et broker "
            "interne), chaque machine doit recevoir la même clé, d'au moins "
            f"{SECRET_KEY_MIN_BYTES} octets."
        )
    return instance_secret_key(INSTANCE_DIR)


def _ratelimit_storage(given: str | None, broker_url: str) -> str:
    """Login limits shared by every web process: in the distributed mode, Redis (the
    broker's when unset); per-process memory would let each process count alone."""
    if broker_url.startswith("stub:"):
        return given or Settings.ratelimit_storage_url
    if given is None:
        return broker_url
    if not given.startswith(("redis://", "rediss://", "redis+sentinel://", "redis+cluster://")):
        raise ConfigurationError(
            "COOPFLOW_RATELIMIT_STORAGE_URL doit être une adresse Redis (redis://…) dans le "
            "mode distribué : chaque processus web compterait seul les tentatives de "
            "connexion."
        )
    return given


def instance_secret_key(directory: Path) -> str:
    """A random key kept in ``directory/secret_key`` so sessions survive a restart of the
    embedded default. Created at once with mode 0600 (never readable by others, not even
    for a moment), and by one process only: two starting together read the same key."""
    path = directory / "secret_key"
    empty = False  # left by an interrupted write of an older version: replaced
    try:
        key = path.read_text().strip()
        if key:
            return key
        empty = True
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    temporary = directory / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
            file.flush()
            os.fsync(file.fileno())
        if empty:
            os.replace(temporary, path)
        else:
            with contextlib.suppress(FileExistsError):  # another process made it first: theirs
                os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text().strip()
