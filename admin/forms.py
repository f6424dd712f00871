"""The back-office's forms (Flask-WTF: a CSRF token in every one), French messages."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from web.forms import text_field
from web.guards import MAX_ID


class _ParsedInFrench:
    """A field whose value does not parse says ``message``, in French (WTForms' own
    messages are English)."""

    message: str
    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)  # type: ignore[misc]
        except ValueError:
            self.data = None
            raise ValueError(self.message) from None


class FrenchDateField(_ParsedInFrench, DateField):
    """A date input (``<input type=date>`` sends ``YYYY-MM-DD``) with a French error."""

    message = "Date invalide : utilisez le format jj/mm/aaaa."


COMMENT_REQUIRED = "Indiquez un commentaire : il est enregistré dans l'historique du dossier."
#: WTForms' own messages are English (no Flask-Babel here): every validator says its own.
COMMENT_TOO_LONG = "Commentaire trop long (2000 caractères au plus)."


def required_comment() -> Any:
    """The comment an action must carry: it goes to the audit trail."""
    return text_field(
        TextAreaField,
        "Commentaire",
        max_length=2000,
        too_long=COMMENT_TOO_LONG,
        missing=COMMENT_REQUIRED,
    )


def optional_comment() -> Any:
    """A comment staff may add to the audit trail."""
    return text_field(
        TextAreaField, "Commentaire (facultatif)", max_length=2000, too_long=COMMENT_TOO_LONG
    )


class VersionField(_ParsedInFrench, IntegerField):
    """The case version a page showed, hidden; anything but a number is refused in French."""

    widget = HiddenInput()
    message = "Version du dossier illisible : rechargez la page."


class ChoiceIdField(_ParsedInFrench, SelectField):
    """A ``<select>`` of ids; a value that is no id gets ``message``, in French."""

    def __init__(self, label: str, message: str, **kwargs: Any) -> None:
        super().__init__(label, coerce=int, validate_choice=False, **kwargs)
        self.message = message

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not 0 < self.data <= MAX_ID:  # no row has it
            self.data = None
            raise ValueError(self.message)


class CaseActionForm(FlaskForm):
    """Every action on a case carries the version the page showed (optimistic lock)."""

    version = VersionField(validators=[InputRequired("Version du dossier manquante.")])


class ActionForm(CaseActionForm):
    """A trigger fired or a step retried: the comment is required, it goes to the audit."""

    comment = required_comment()


class ImportForm(FlaskForm):
    #: Checked against the staff member's scope in the view, with a French message.
    ad_id = ChoiceIdField("Association départementale", "Choisissez une AD de la liste.")
    file = FileField(
        "Fichier CSV des coopératives",
        validators=[FileRequired("Choisissez le fichier CSV à importer.")],
    )
    invite = BooleanField("Envoyer les invitations")


class ConfirmImportForm(FlaskForm):
    """The previewed file travels back signed: the server checks it was not altered."""

    payload = HiddenField(validators=[DataRequired("Aperçu manquant : recommencez l'import.")])


class AssignForm(CaseActionForm):
    assignee = SelectField("Assigner à", coerce=str, validate_choice=False)
    comment = optional_comment()


class CommentForm(FlaskForm):
    text = text_field(
        TextAreaField,
        "Commentaire",
        max_length=2000,
        too_long=COMMENT_TOO_LONG,
        missing="Le commentaire est vide.",
    )


class TaskForm(FlaskForm):
    title = text_field(
        StringField,
        "Tâche",
        max_length=300,
        too_long="Titre trop long (300 caractères au plus).",
        missing="Indiquez ce qu'il faut faire.",
    )
    due = FrenchDateField(
        "Échéance",
        validators=[InputRequired("Indiquez une échéance valide (jj/mm/aaaa).")],
    )
    note = TextAreaField(
        "Précisions (facultatif)",
        validators=[
            Optional(),
            Length(max=2000, message="Précisions trop longues (2000 caractères au plus)."),
        ],
    )


class CloseTaskForm(FlaskForm):
    comment = required_comment()
