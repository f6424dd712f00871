"""Security headers of every page: no inline script anywhere, never framed, never sniffed.

Outside the back-office (portal, login, invitation, password reset): no script at all,
nothing loaded from elsewhere, never cached (one coop's data on a school's shared
computer). The back-office (Flask-Admin) runs scripts, only from files of this site:
the few inline bits of Flask-Admin's templates are shadowed in ``admin/templates``.
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


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        admin = request.path.startswith("/admin")
        policy = ADMIN_CONTENT_SECURITY_POLICY if admin else CONTENT_SECURITY_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not admin and not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response
