"""The portal's forms (Flask-WTF: CSRF on every one), with French messages."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from wtforms import EmailField, Field, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from workflows.models import Mandataire
from workflows.processes.invitation.password_rules import Person, check_password

#: WTForms' own messages are English (no Flask-Babel here): every validator says its own.
EMAIL_TOO_LONG = "Adresse email trop longue (254 caractères au plus)."
INVALID_EMAIL = "Cette adresse email n'est pas valide."


def text_field(
    field: type[Field],
    label: str | None,
    *,
    max_length: int,
    too_long: str,
    missing: str | None = None,
    validators: tuple[Any, ...] = (),
    **kwargs: Any,
) -> Any:
    """A text input with its French messages: required when ``missing`` says what to
    type (optional otherwise), checked by ``validators``, at most ``max_length``
    characters."""
    first = DataRequired(missing) if missing else Optional()
    checks = [first, *validators, Length(max=max_length, message=too_long)]
    return field(label, validators=checks, **kwargs)


def email_field(label: str = "Votre adresse email", **kwargs: Any) -> Any:
    """A required, well-formed email address of at most 254 characters."""
    return text_field(
        EmailField,
        label,
        max_length=254,
        too_long=EMAIL_TOO_LONG,
        missing="Saisissez votre adresse email.",
        validators=(Email(INVALID_EMAIL),),
        **kwargs,
    )


class PasswordSetupForm(FlaskForm):
    password = PasswordField(
        "Mot de passe", validators=[DataRequired("Saisissez un mot de passe.")]
    )
    confirmation = PasswordField(
        "Confirmez votre mot de passe",
        validators=[
            DataRequired("Confirmez votre mot de passe."),
            EqualTo("password", "Les deux mots de passe ne sont pas identiques."),
        ],
    )


def refused_password(
    form: PasswordSetupForm, mandataire: Mandataire
) -> tuple[list[str], int] | None:
    """Why the password posted for ``mandataire`` cannot be chosen, with the status to
    answer (a page not submitted yet: no error, 200), or ``None`` when it can."""
    if not form.validate_on_submit():
        return [e for field in form for e in field.errors], 422 if form.is_submitted() else 200
    person = Person(mandataire.first_name, mandataire.last_name, mandataire.email)
    minimum = mandataire.coop.ad.password_min_length
    errors = check_password(form.password.data or "", person, minimum=minimum)
    return (errors, 422) if errors else None


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField(
        "Votre mot de passe", validators=[DataRequired("Saisissez votre mot de passe.")]
    )


def safe_next(target: str | None, default: str, *, under: str = "/") -> str:
    """``target`` if it is a page of this site under ``under`` that opens with a GET,
    else ``default``: a login never sends anyone to another site (``//evil``,
    ``/\\evil``: browsers read a backslash as a slash), nor to a URL that only takes
    a form's POST (it would answer 405)."""
    if not target or not target.startswith(under) or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    try:
        current_app.url_map.bind("localhost").match(unquote(parts.path), method="GET")
    except RequestRedirect:
        pass  # a trailing slash added: it opens
    except HTTPException:
        return default  # no such page, or not with a GET
    return target
