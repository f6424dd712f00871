"""Every HTML page of the app, portal and back-office, found in its URL map: a Content
Security Policy that runs scripts from this site's files only (none on the portal), no
inline script nor inline handler in the page, never framed, never sniffed, never cached."""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.routing import Rule

from tests.security.conftest import url_of, values_for, who_for

_SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)
#: An inline event handler (``onclick="..."``), or a ``javascript:`` URL that would do
#: something (Flask-Admin's ``javascript:void(0)`` no-ops are stopped by links.js).
_HANDLER = re.compile(
    r"<[a-z][^>]*\s(on[a-z]+\s*=|(?:href|src|action)\s*=\s*[\"']?javascript:(?!void\(0\)))",
    re.I,
)


def policy(header: str) -> dict[str, list[str]]:
    """``{"script-src": ["'self'", ...], ...}`` from a CSP header."""
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _get_rules(app: Flask) -> list[Rule]:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or set()) and not rule.endpoint.endswith("static")
        ),
        key=lambda r: r.rule,
    )


def problems_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    """What is wrong with the security headers of one HTML response."""
    found = []
    csp = policy(response.headers.get("Content-Security-Policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    if scripts is None:
        return ["no CSP"]
    if scripts not in (["'self'"], ["'none'"]):
        found.append(f"script-src {scripts}: only this site's files, no inline script")
    if csp.get("frame-ancestors") != ["'none'"]:
        found.append(f"frame-ancestors {csp.get('frame-ancestors')}")
    if response.headers.get("X-Content-Type-Options") != "nosniff":
        found.append("no nosniff")
    if "no-store" not in response.headers.get("Cache-Control", ""):
        found.append("cacheable: no Cache-Control: no-store (back-office pages too)")
    page = response.get_data(as_text=True)
    found += [f"inline script: <script{a}>" for a in _SCRIPT.findall(page) if "src=" not in a]
    found += [f"inline handler or javascript: URL: {m}" for m in _HANDLER.findall(page)]
    return found


def test_every_html_page_has_the_security_headers(app, world):
    seen, failures = [], []
    rules = _get_rules(app)
    extra = [("mandataire", "/page-inconnue"), ("staff", "/admin/page-inconnue")]
    requests = [(who_for(r), url_of(r, values_for(r, world))) for r in rules] + extra
    for who, url in requests:
        response = world.clients[who].get(url)
        if response.mimetype != "text/html":
            continue
        seen.append(url)
        failures += [f"{who} {url}: {p}" for p in problems_of(response)]
    assert not failures, "\n".join(failures)
    assert {"/mon-espace", "/admin/", "/connexion", "/admin/connexion"} <= set(seen)
    assert any(u.startswith("/admin/dossiers/") and u[-1].isdigit() for u in seen), seen
