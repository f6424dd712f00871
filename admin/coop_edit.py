"""« Modifier la coopérative »: staff correct the coop (name, school, address, school
email) and its mandataire (first name, last name, email) from the coop's page, with the
import's checks, audited on each of the coop's cases (:mod:`workflows.coop_edit`); the
tasks they opened by hand for it can be closed in the same stroke.

Mixed into the « Coopératives » view beside :class:`admin.coop_page.CoopPage`.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import EmailField, HiddenField, SelectMultipleField, StringField
from wtforms.validators import Optional
from wtforms.validators import ValidationError as WTFormsValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from admin.access import acting_staff
from admin.forms import optional_comment
from web.runtime import runtime
from workflows.coop_edit import (
    EDITABLE,
    FieldsRefused,
    edit_coop,
    fingerprint,
    mandataire_of,
    open_manual_tasks,
    values_of,
)
from workflows.engine.actor import Actor
from workflows.engine.errors import CaseNotFound, ConflictError, ValidationError
from workflows.models import Case, Coop, Task
from workflows.scope import can_see

GONE = "Cette tâche n'est plus à faire : rechargez la page."


class TaskChoices(SelectMultipleField):
    """The open tasks opened by hand, one checkbox each: « Clore aussi ... »."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(GONE) from None

    def pre_validate(self, form: Any) -> None:
        known = {value for value, _ in self.choices or ()}  # type: ignore[misc]
        if any(value not in known for value in self.data or ()):
            raise WTFormsValidationError(GONE)


def close_tasks_field() -> Any:
    return TaskChoices("Tâches ouvertes à la main, à clore avec cette correction", coerce=int)


def task_choices(tasks: list[Task]) -> list[tuple[int, str]]:
    return [(t.id, f"{t.title} (dossier n° {t.case_id})") for t in tasks]


def _field(label: str, email: bool) -> Any:
    kind = EmailField if email else StringField
    return kind(label[0].upper() + label[1:], validators=[Optional()])


#: One field per editable column, named like ``CoopRow`` (the import's checks run on them).
CoopEditForm: type[FlaskForm] = type(
    "CoopEditForm",
    (FlaskForm,),
    {
        **{c.field: _field(c.label, c.header.startswith("email_")) for c in EDITABLE},
        "seen": HiddenField(),
        "comment": optional_comment(),
        "close_tasks": close_tasks_field(),
    },
)
COOP_FIELDS = [c.field for c in EDITABLE if not c.field.startswith("mandataire_")]
PERSON_FIELDS = [c.field for c in EDITABLE if c.field.startswith("mandataire_")]


class CoopEdit:
    """The edit form of a coop, for staff who may act on its AD."""

    session: Any

    @expose("/<int:coop_id>/modifier", methods=("GET", "POST"))
    def coop_edit(self, coop_id: int) -> Any:
        view: Any = self
        principal = acting_staff()
        session: Session = self.session
        coop = session.get(Coop, coop_id)
        if coop is None or not can_see(principal, coop.ad_id):
            abort(404)
        person = mandataire_of(session, coop)
        current = values_of(coop, person)
        case_ids = list(session.scalars(select(Case.id).where(Case.coop_id == coop.id)))
        tasks = open_manual_tasks(session, case_ids)
        form: Any = CoopEditForm() if request.method == "POST" else CoopEditForm(formdata=None)
        form.close_tasks.choices = task_choices(tasks)
        if request.method == "GET":
            for name, value in current.items():
                form[name].data = value
            form.seen.data = fingerprint(current)
        changed_meanwhile: dict[str, str] = {}
        if request.method == "POST" and form.validate_on_submit():
            raw = {name: form[name].data or "" for name in current}
            try:
                report = self._save(coop_id, raw, form)
            except FieldsRefused as exc:
                for name, messages in exc.by_field.items():
                    form[name].errors = list(form[name].errors) + messages
            except ValidationError as exc:
                flash(" ".join(exc.errors), "error")
            except CaseNotFound:
                abort(404)
            except ConflictError as exc:
                flash(str(exc), "error")
                # Show what changed, and make the next « Enregistrer » deliberate.
                changed_meanwhile = {
                    n: v for n, v in current.items() if form[n].data != v and form[n].data
                }
                form.seen.data = fingerprint(current)
            else:
                flash(report.summary() + _consequences(report), "success")
                return redirect(url_for(".coop_page", coop_id=coop.id))
        page = view.render(
            "coopflow_admin/coop_edit.html",
            coop=coop,
            person=person,
            form=form,
            coop_fields=COOP_FIELDS,
            person_fields=PERSON_FIELDS,
            current=current,
            changed_meanwhile=changed_meanwhile,
        )
        return page, 422 if request.method == "POST" else 200

    def _save(self, coop_id: int, raw: dict[str, str], form: Any) -> Any:
        principal = acting_staff()
        with runtime().engine.transaction() as tx:
            coop = tx.lock_coop(coop_id)
            if coop is None or not can_see(principal, coop.ad_id):
                raise CaseNotFound("Coopérative introuvable.")
            return edit_coop(
                tx,
                coop,
                mandataire_of(tx.session, coop),
                raw,
                seen=form.seen.data or "",
                actor=Actor.staff(principal),
                comment=(form.comment.data or "").strip() or None,
                close_tasks=form.close_tasks.data or (),
            )


def _consequences(report: Any) -> str:
    out = ""
    if report.resent:
        out += " L'invitation est renvoyée à la nouvelle adresse."
    if report.tasks_closed:
        out += f" Tâches closes : {report.tasks_closed}."
    return out
