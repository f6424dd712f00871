"""The back-office's forms (Flask-WTF: a CSRF token in every one), French messages."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput


class FrenchDateField(DateField):
    """A date input (``<input type=date>`` sends ``YYYY-MM-DD``) with a French error."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Date invalide : utilisez le format jj/mm/aaaa.") from None


COMMENT_REQUIRED = "Indiquez un commentaire : il est enregistré dans l'historique du dossier."


class LoginForm(FlaskForm):
    email = EmailField(
        "Adresse email",
        validators=[
            DataRequired("Saisissez votre adresse email."),
            Email("Cette adresse email n'est pas valide."),
            Length(max=254),
        ],
    )
    password = PasswordField(
        "Mot de passe", validators=[DataRequired("Saisissez votre mot de passe.")]
    )


class _CaseActionForm(FlaskForm):
    """Every action on a case carries the version the page showed (optimistic lock)."""

    version = IntegerField(
        widget=HiddenInput(), validators=[InputRequired("Version du dossier manquante.")]
    )


class ActionForm(_CaseActionForm):
    """A trigger fired or a step retried: the comment is required, it goes to the audit."""

    comment = TextAreaField(
        "Commentaire", validators=[DataRequired(COMMENT_REQUIRED), Length(max=2000)]
    )


class FixEmailForm(_CaseActionForm):
    email = EmailField(
        "Nouvelle adresse du mandataire",
        validators=[DataRequired("Saisissez la nouvelle adresse email."), Length(max=254)],
    )
    comment = TextAreaField(
        "Commentaire", validators=[DataRequired(COMMENT_REQUIRED), Length(max=2000)]
    )


class ImportForm(FlaskForm):
    #: Checked against the staff member's scope in the view, with a French message.
    ad_id = SelectField("Association départementale", coerce=int, validate_choice=False)
    file = FileField(
        "Fichier CSV des coopératives",
        validators=[FileRequired("Choisissez le fichier CSV à importer.")],
    )
    invite = BooleanField("Envoyer les invitations")


class ConfirmImportForm(FlaskForm):
    """The previewed file travels back signed: the server checks it was not altered."""

    payload = HiddenField(validators=[DataRequired("Aperçu manquant : recommencez l'import.")])


class AssignForm(_CaseActionForm):
    assignee = SelectField("Assigner à", coerce=str, validate_choice=False)
    comment = TextAreaField("Commentaire (facultatif)", validators=[Optional(), Length(max=2000)])


class CommentForm(FlaskForm):
    text = TextAreaField(
        "Commentaire",
        validators=[DataRequired("Le commentaire est vide."), Length(max=2000)],
    )


class TaskForm(FlaskForm):
    title = StringField(
        "Tâche",
        validators=[DataRequired("Indiquez ce qu'il faut faire."), Length(max=300)],
    )
    due = FrenchDateField(
        "Échéance",
        validators=[InputRequired("Indiquez une échéance valide (jj/mm/aaaa).")],
    )
    note = TextAreaField("Précisions (facultatif)", validators=[Optional(), Length(max=2000)])


class CloseTaskForm(FlaskForm):
    comment = TextAreaField(
        "Commentaire", validators=[DataRequired(COMMENT_REQUIRED), Length(max=2000)]
    )
