"""Security headers of every page: no inline script anywhere, never framed, never sniffed.

Outside the back-office (portal, login, invitation, password reset): no script at all,
nothing loaded from elsewhere. The back-office (Flask-Admin) runs scripts, only from
files of this site: the few inline bits of Flask-Admin's templates are shadowed in
``admin/templates``. No page is ever cached, in the browser or on the way (one coop's
data on a school's shared computer, a coop list after the staff member logged out):
only the static files are. With secure cookies (HTTPS), browsers are told to come back
over HTTPS only (HSTS).
"""

from __future__ import annotations

from flask import Flask, Response, request

#: Mandataire pages run no script and load nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

#: Back-office pages: scripts from this site's files only (no inline script, no inline
#: handler, no ``eval``). Styles may be inline: the preview of an HTML email (a
#: sandboxed ``srcdoc`` frame, which inherits this policy) is styled by ``style``
#: attributes.
ADMIN_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


#: HTTPS only, for a year, subdomains included (sent only with secure cookies on).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
#: Files of the site (CSS, the back-office's scripts): cacheable, nothing personal.
STATIC_PREFIXES = ("/static/", "/admin/ressources/", "/admin/static/")


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        admin = request.path.startswith("/admin")
        policy = ADMIN_CONTENT_SECURITY_POLICY if admin else CONTENT_SECURITY_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith(STATIC_PREFIXES):
            response.headers.setdefault("Cache-Control", "private, no-store")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        return response
