"""A staff task with a page of its own (« Vérifier le RIB déposé », « Traiter le
signalement », « Enregistrer le résultat de la vérification d'identité »): what staff
must look at (a RIB file beside the typed fields, Swan's statuses) needs more room than
a form card of the case page, and each decision is a form of its own on that page (an
Enter in one never sends another).

Each form is a :class:`admin.case_actions.StaffAction` (its ``perform`` locks the case,
checks scope and version, fires the trigger in one transaction). The page and its forms
are acting pages: read-only accounts are refused them (403), another AD's case is not
found (404), a case no longer in the state they are for goes back to the case page with
why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, request, url_for
from sqlalchemy.orm import Session
from wtforms import RadioField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError as WTFormsValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from admin.access import acting_staff
from admin.case_actions import StaffAction
from web.auth import StaffPrincipal
from web.runtime import runtime
from workflows.engine.errors import CaseNotFound, ConflictError, ValidationError
from workflows.models import Case

#: The page or one of its forms, for a case no longer in the state it is for.
NOT_OFFERED = "Cette tâche n'est plus à faire sur ce dossier : voici son état actuel."


@dataclass(frozen=True)
class TaskPage:
    """A task's page: its template, what it shows, its forms (in the order shown)."""

    #: Its name in the process module's ``ACTIONS`` (what a stuck rule recommends).
    name: str
    #: The page's heading (« Vérifier le RIB déposé »).
    title: str
    #: The page's GET endpoint in the case view (``.review_rib``).
    endpoint: str
    template: str
    offered: Callable[[Case], bool]
    forms: tuple[StaffAction, ...]
    #: What the template shows besides the case and the forms.
    context: Callable[[Session, Case, StaffPrincipal], dict[str, Any]]
    #: The definition's triggers its forms fire: the case page's generic form of one
    #: would skip what the page adds (the reasons the mandataire reads, the RIB's verdict).
    triggers: tuple[str, ...] = ()


def show(view: Any, case_id: int, page: TaskPage, posted: StaffAction | None = None) -> Any:
    """The page (GET), or one of its forms posted (``posted``): done, the case page
    with what was done; refused, the page again with the reasons under their fields."""
    principal = acting_staff()
    case = view._visible_case(case_id)
    if not page.offered(case):
        flash(NOT_OFFERED, "error")
        return redirect(url_for(".case_page", case_id=case_id))
    forms: dict[str, Any] = {}
    for action in page.forms:
        mine = posted is not None and action.prefix == posted.prefix
        form = (
            action.form(prefix=action.prefix)
            if mine
            else action.form(prefix=action.prefix, version=case.version, formdata=None)
        )
        if action.prepare is not None:
            action.prepare(form, view.session, case, not mine)
        forms[action.prefix] = form
    if posted is not None:
        form = forms[posted.prefix]
        if form.validate_on_submit():
            try:
                message = posted.perform(runtime(), principal, case_id, form)
            except ValidationError as exc:
                form[posted.field].errors = list(exc.errors)
            except (ConflictError, CaseNotFound) as exc:
                return view._done(case_id, None, exc)
            else:
                return view._done(case_id, message, None)
    page_html = view.render(
        page.template,
        heading=page.title,
        state_label=view.definitions[case.process].label(case.state),
        case=case,
        forms=forms,
        urls={a.prefix: url_for(a.endpoint, case_id=case.id) for a in page.forms},
        **page.context(view.session, case, principal),
    )
    return page_html, 422 if posted is not None else 200


def post(view: Any, case_id: int, page: TaskPage, prefix: str) -> Any:
    """One of the page's forms, posted."""
    assert request.method == "POST"
    action = next(a for a in page.forms if a.prefix == prefix)
    return show(view, case_id, page, action)


class _FrenchChoice:
    """A choice among ``choices``: nothing chosen, or a value not offered (a page left
    open while the list changed, a forged post), is refused with ``missing``, in French
    (WTForms' own message is English)."""

    missing: str
    choices: Any
    data: Any

    def pre_validate(self, form: Any) -> None:
        known = {str(choice.value) for choice in self.choices or ()}
        values = self.data if isinstance(self.data, list) else [self.data]
        if not any(values) or any(str(v) not in known for v in values):
            raise WTFormsValidationError(self.missing)


class OneOf(_FrenchChoice, SelectField):
    """A ``<select>`` that must be answered."""

    def __init__(
        self, label: str, choices: list[tuple[str, str]], missing: str, **kwargs: Any
    ) -> None:
        super().__init__(label, choices=[SelectChoice(v, t) for v, t in choices], **kwargs)
        self.missing = missing


class RadioOneOf(_FrenchChoice, RadioField):
    """Radio buttons, one of which must be chosen."""

    def __init__(
        self, label: str, choices: list[tuple[str, str]], missing: str, **kwargs: Any
    ) -> None:
        super().__init__(label, choices=[SelectChoice(v, t) for v, t in choices], **kwargs)
        self.missing = missing


class Ticked(_FrenchChoice, SelectMultipleField):
    """Checkboxes, at least one of which must be ticked."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(
        self, label: str, choices: list[tuple[str, str]], missing: str, **kwargs: Any
    ) -> None:
        super().__init__(label, choices=[SelectChoice(v, t) for v, t in choices], **kwargs)
        self.missing = missing
