"""The portal's forms (Flask-WTF: CSRF on every one), with French messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length

#: WTForms' own messages are English (no Flask-Babel here): every validator says its own.
EMAIL_TOO_LONG = "Adresse email trop longue (254 caractères au plus)."


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


class LoginForm(FlaskForm):
    email = EmailField(
        "Votre adresse email",
        validators=[
            DataRequired("Saisissez votre adresse email."),
            Email("Cette adresse email n'est pas valide."),
            Length(max=254, message=EMAIL_TOO_LONG),
        ],
    )
    password = PasswordField(
        "Votre mot de passe", validators=[DataRequired("Saisissez votre mot de passe.")]
    )
