"""Security headers of every page outside the back-office (portal, login, invitation,
password reset): no script at all, nothing loaded from elsewhere, never framed, never
cached (one coop's data on a school's shared computer)."""

from __future__ import annotations

from flask import Flask, Response, request

#: Mandataire pages run no script and load nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        if request.path.startswith("/admin"):
            return response  # not yet: Flask-Admin's templates carry inline scripts
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response
