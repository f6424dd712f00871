"""The web layer: the mandataires' portal, login, webhooks, health and metrics.

The application itself is built by the composition root (``coopflow.app.create_app``),
which hands it the runtime and calls :func:`init_app`, then the back-office's."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

from web import kept_forms
from web.extensions import csrf, limiter, login_manager
from web.forms import LoginForm
from web.log_redaction import install as install_log_redaction
from workflows.formatting import date_fr, datetime_fr, euros
from workflows.typography import FrenchTypography

log = logging.getLogger(__name__)

TOO_MANY_LOGINS = "Trop de tentatives de connexion. Réessayez dans quelques minutes."


def init_app(app: Flask, runtime: Any) -> None:
    """Configure ``app`` for the web layer and register its pages; ``runtime`` (the
    composition root's) is what every view reaches through :func:`web.runtime.runtime`."""
    settings = runtime.settings
    proxies = int(getattr(settings, "trusted_proxies", 0))
    if proxies:
        # The client's address and scheme as the platform's router(s) saw them: the
        # login limits count per client, not per router; HTTPS is known as such.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=6 * 1024 * 1024,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_AS_ASCII=False,
    )
    app.extensions["coopflow"] = runtime

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    limiter.init_app(app)

    app.jinja_env.filters.update(date_fr=date_fr, datetime_fr=datetime_fr, euros=euros)
    app.jinja_env.add_extension(FrenchTypography)  # « : ; ! ? » and « » in every page

    from web import (
        auth,
        guards,
        headers,
        health,
        login,
        metrics,
        portal,
        submissions,
        verification,
        webhooks,
    )

    install_log_redaction()  # no link token in the access logs
    guards.init_app(app)  # before the routes: it changes how their ids are read
    auth.init_app(app, staff_idle_minutes=float(getattr(settings, "staff_idle_minutes", 30)))
    kept_forms.init_app(app)  # a form posted after its session ended: its text given back
    submissions.init_app(app)  # submission_field(): forms that start work, done once
    app.register_blueprint(login.bp)
    portal.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(verification.bp)  # public: « Vérifier un document »
    headers.init_app(app)
    _register_errors(app)


def _register_errors(app: Flask) -> None:
    from workflows.engine.errors import ConflictError

    messages = {
        400: "La demande n'a pas pu être traitée\u00a0: rechargez la page puis réessayez.",
        403: "Vous n'avez pas accès à cette page.",
        404: "Cette page n'existe pas.",
        405: (
            "Cette adresse ne s'ouvre pas directement\u00a0: elle reçoit un formulaire. "
            "Revenez à la page précédente."
        ),
        409: "Ce dossier a changé entre-temps.",
        413: "Le fichier envoyé est trop volumineux.",
        429: "Trop de tentatives. Patientez quelques minutes avant de réessayer.",
        500: "Une erreur est survenue de notre côté. Elle nous a été signalée.",
    }

    def handler(code: int):  # type: ignore[no-untyped-def]
        def render(error: Exception):  # type: ignore[no-untyped-def]
            return _error_page(code, messages[code]), code

        return render

    for code in messages:
        app.register_error_handler(code, handler(code))

    @app.errorhandler(429)
    def too_many(error: Exception):  # type: ignore[no-untyped-def]
        """The login page says why it refuses, on its own layout, form still there."""
        if request.endpoint == "auth.login":
            return render_template("login.html", form=LoginForm(), throttled=TOO_MANY_LOGINS), 429
        if request.endpoint == "admin.login":  # the staff login, in the back-office's layout
            home = current_app.extensions["admin"][0].index_view
            page = home.render(
                "coopflow_admin/login.html", form=LoginForm(), throttled=TOO_MANY_LOGINS
            )
            return page, 429
        return _error_page(429, messages[429]), 429

    @app.errorhandler(CSRFError)
    def form_expired(error: CSRFError):  # type: ignore[no-untyped-def]
        """Never a bare 400: the login page when the session ended, else the form's
        page again, its text kept."""
        return _expired_form()

    @app.errorhandler(ConflictError)
    def conflict(error: ConflictError):  # type: ignore[no-untyped-def]
        return _error_page(409, str(error)), 409


def _error_page(code: int, message: str) -> str:
    """An error in the look of where it happened: the back-office's under ``/admin``
    (staff never land on the portal's « OCCE · Espace coopérative »), else the portal's."""
    if request.path.startswith("/admin") and current_app.extensions.get("admin"):
        try:
            home = current_app.extensions["admin"][0].index_view
            return str(home.render("coopflow_admin/error.html", code=code, message=message))
        except Exception:  # the back-office's layout itself failed: the plain page
            log.exception("back-office error page failed")
    return render_template("error.html", code=code, message=message)


#: The login pages, and the area each one opens.
_LOGINS = {"auth.login", "admin.login"}
_LOGOUTS = {"auth.logout", "admin.logout"}


def _expired_form():  # type: ignore[no-untyped-def]
    """A form whose CSRF token no longer matches the session (see :func:`_register_errors`)."""
    staff_area = request.path.startswith("/admin")
    login = "admin.login" if staff_area else "auth.login"
    if request.endpoint in _LOGINS:  # the login page was open for long: type again
        flash(
            "La page de connexion avait expiré\u00a0: saisissez de nouveau vos identifiants.",
            "warning",
        )
        return redirect(url_for(login, next=request.args.get("next")))
    if request.endpoint in _LOGOUTS and not current_user.is_authenticated:
        flash("Vous êtes déconnecté.", "info")  # a forged one changes nothing: see below
        return redirect(url_for(login))
    home = url_for("admin.index") if staff_area else url_for("portal.home")
    page = kept_forms.page_of_form(home, under="/admin" if staff_area else "/")
    view = current_app.view_functions.get(request.endpoint or "")
    who = getattr(current_user, "kind", None) if current_user.is_authenticated else None
    anonymous_here = who != "staff" if staff_area else who is None
    if anonymous_here and (staff_area or getattr(view, "mandataire_only", False)):
        kept = kept_forms.keep(page)
        flash(kept_forms.SESSION_ENDED_KEPT if kept else kept_forms.SESSION_ENDED, "info")
        return redirect(url_for(login, next=page))
    kept = kept_forms.keep(page)
    flash(kept_forms.FORM_EXPIRED, "warning")
    if kept:
        flash(kept_forms.TEXT_KEPT, "info")
    return redirect(page)
