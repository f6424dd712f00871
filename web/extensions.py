"""Flask extensions, created unbound and attached in ``create_app`` (flaskr style)."""

from __future__ import annotations

from flask import Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
#: Keyed by the client's address: behind the platform's router it is the one ProxyFix
#: reads from ``X-Forwarded-For`` (``COOPFLOW_TRUSTED_PROXIES``), not the router's.
limiter = Limiter(key_func=get_remote_address, default_limits=[])

#: A login form's attempts, per client address (whatever the accounts tried).
LOGIN_LIMIT_PER_ADDRESS = "10 per minute;50 per hour"
#: A login form's failed attempts at one account, whatever the addresses they come from.
LOGIN_LIMIT_PER_ACCOUNT = "5 per minute;20 per hour"


def account_key() -> str:
    """The account a login form names (its email, as the login compares it)."""
    email = request.form.get("email", "")
    return "account:" + email.strip().lower()[:254]


def login_failed(response: Response) -> bool:
    """Only wrong credentials count against an account (a success does not)."""
    return response.status_code == 401


def login_limits(view):  # type: ignore[no-untyped-def]
    """The two limits of a login form's POST: per address, and per account."""
    view = limiter.limit(
        LOGIN_LIMIT_PER_ACCOUNT,
        key_func=account_key,
        methods=["POST"],
        deduct_when=login_failed,
        scope=lambda endpoint: f"{endpoint}:account",
    )(view)
    return limiter.limit(LOGIN_LIMIT_PER_ADDRESS, methods=["POST"])(view)
