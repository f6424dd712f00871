"""« Dossiers »: the cases in scope, oldest stuck first, and one page per case with its
audit trail, steps, emails and the actions staff may take now."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, url_for
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from markupsafe import Markup
from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Query, joinedload, selectinload

from admin import case_actions
from admin.access import ReadOnlyModelView, acting_staff, case_condition, staff
from admin.emails import STATUSES
from admin.forms import ActionForm, FixEmailForm
from admin.french import Equals, IsSet
from admin.presenters import CasePresenter
from web.runtime import runtime
from workflows.definition import STAFF, Definition
from workflows.engine import UnitOfWork
from workflows.errors import CaseNotFound, ConflictError, CoopflowError, ValidationError
from workflows.formatting import datetime_fr
from workflows.invitation import PROCESS as INVITATION
from workflows.models import Case, Coop, Email, Mandataire, StepStatus

#: The position of « Bloqué » in :func:`_filters`: Flask-Admin names filters by position.
STUCK_FILTER = 2


def stuck_cases_url() -> str:
    return url_for("cases.index_view", **{f"flt0_{STUCK_FILTER}": "1"})


def _filters(definitions: dict[str, Definition]) -> list[Any]:
    processes = [(d.name, d.title) for d in definitions.values()]
    states = [(s.name, f"{d.title} : {s.label}") for d in definitions.values() for s in d.states]
    return [
        Equals(Case.process, "Processus", options=processes),
        Equals(Case.state, "État", options=states),
        IsSet(Case.stuck_reason, "Bloqué"),
    ]


class CaseView(ReadOnlyModelView, ModelView):
    column_list = (
        "id",
        "process",
        "state",
        "coop",
        "ad",
        "stuck_message",
        "stuck_since",
        "updated_at",
    )
    column_labels = {
        "id": "N°",
        "process": "Processus",
        "state": "État",
        "coop": "Coopérative",
        "ad": "AD",
        "stuck_message": "Blocage",
        "stuck_since": "Bloqué depuis",
        "updated_at": "Mis à jour",
    }
    column_sortable_list = ("id", "process", "state", "stuck_since", "updated_at")

    def __init__(self, session: Any, definitions: dict[str, Definition], **kwargs: Any) -> None:
        self.definitions = definitions
        self.column_filters = _filters(definitions)
        self.column_formatters = {
            "id": _link_to_case,
            "process": lambda v, c, m, n: self._definition(m).title,
            "state": lambda v, c, m, n: self._state_label(m),
            "coop": lambda v, c, m, n: f"{m.coop.name} ({m.coop.affiliation_number})",
            "ad": lambda v, c, m, n: m.coop.ad.code,
            "stuck_since": lambda v, c, m, n: datetime_fr(m.stuck_since),
            "updated_at": lambda v, c, m, n: datetime_fr(m.updated_at),
        }
        super().__init__(Case, session, **kwargs)

    def _definition(self, case: Case) -> Definition:
        return self.definitions[case.process]

    def _state_label(self, case: Case) -> str:
        state = self._definition(case).state_by_name.get(case.state)
        return state.label if state else case.state

    # Scope ---------------------------------------------------------------------------

    def get_query(self) -> Query[Any]:
        return super().get_query().filter(case_condition(staff()))

    def get_count_query(self) -> Query[Any]:
        return super().get_count_query().filter(case_condition(staff()))

    def _apply_sorting(self, query: Any, joins: Any, sort_column: Any, sort_desc: bool) -> Any:
        if sort_column is not None:
            return super()._apply_sorting(query, joins, sort_column, sort_desc)
        # Stuck cases first, the oldest first; NULLs sort differently on each backend.
        not_stuck = sql_case((Case.stuck_since.is_(None), 1), else_=0)
        return query.order_by(not_stuck, Case.stuck_since, Case.id), joins

    def _visible_case(self, case_id: int) -> Case:
        found = self.session.scalars(
            select(Case)
            .where(Case.id == case_id, case_condition(staff()))
            .options(
                joinedload(Case.coop).selectinload(Coop.mandataires),
                selectinload(Case.events),
                selectinload(Case.steps),
            )
        ).one_or_none()
        if found is None:
            abort(404)
        return found

    # The case page -------------------------------------------------------------------

    @expose("/<int:case_id>")
    def case_page(self, case_id: int) -> Any:
        return self._case_page(case_id)

    def _case_page(self, case_id: int, invalid: dict[str, Any] | None = None) -> Any:
        """The page; ``invalid`` holds a posted form that failed validation, shown again."""
        invalid = invalid or {}
        case = self._visible_case(case_id)
        principal = staff()
        mandataire = self.session.get(Mandataire, case.data.get("mandataire_id"))
        emails = self.session.scalars(
            select(Email).where(Email.case_id == case.id).order_by(Email.id.desc())
        ).all()

        def blank(form_class: type[Any], prefix: str) -> Any:
            return invalid.get(prefix) or form_class(
                prefix=prefix, version=case.version, formdata=None
            )

        actions: dict[str, Any] = {}
        retries: list[tuple[Any, Any]] = []
        fix_email = None
        if principal.can_act:
            for t in UnitOfWork(runtime().engine, self.session).allowed(case, STAFF):
                actions[t.trigger] = blank(ActionForm, t.trigger)
            for step in case.steps:
                if step.status == StepStatus.FAILED.value and step.args.get("state") == case.state:
                    retries.append((step, blank(ActionForm, f"step{step.id}")))
            if case.process == INVITATION and case.state == "bounced":
                fix_email = blank(FixEmailForm, "fix")
        anchors = {f"action-{prefix}" for prefix in actions}
        anchors |= {f"action-step{step.id}" for step, _ in retries}
        anchors |= {"action-fix"} if fix_email else set()
        page = self.render(
            "coopflow_admin/case.html",
            case=case,
            view=CasePresenter(case, self._definition(case)),
            mandataire=mandataire,
            emails=emails,
            actions=actions,
            retries=retries,
            fix_email=fix_email,
            anchors=anchors,
            can_act=principal.can_act,
            email_statuses=STATUSES,
        )
        return page, 422 if invalid else 200

    def _done(self, case_id: int, message: str | None, error: CoopflowError | None) -> Any:
        if isinstance(error, CaseNotFound):
            abort(404)
        if error is not None:
            flash(str(error), "error")
        elif message:
            flash(message, "success")
        return redirect(url_for(".case_page", case_id=case_id))

    @expose("/<int:case_id>/declencher/<trigger>", methods=("POST",))
    def fire(self, case_id: int, trigger: str) -> Any:
        principal = acting_staff()
        self._visible_case(case_id)
        form = ActionForm(prefix=trigger)
        if not form.validate_on_submit():
            return self._case_page(case_id, {trigger: form})
        try:
            label = case_actions.fire(
                runtime(), principal, case_id, trigger, form.version.data, form.comment.data
            )
        except (ConflictError, CaseNotFound) as exc:
            return self._done(case_id, None, exc)
        return self._done(
            case_id, f"Action effectuée : le dossier est maintenant « {label} ».", None
        )

    @expose("/<int:case_id>/etapes/<int:step_id>/relancer", methods=("POST",))
    def retry(self, case_id: int, step_id: int) -> Any:
        principal = acting_staff()
        self._visible_case(case_id)
        prefix = f"step{step_id}"
        form = ActionForm(prefix=prefix)
        if not form.validate_on_submit():
            return self._case_page(case_id, {prefix: form})
        try:
            label = case_actions.retry_step(
                runtime(), principal, case_id, step_id, form.version.data, form.comment.data
            )
        except (ConflictError, CaseNotFound) as exc:
            return self._done(case_id, None, exc)
        return self._done(case_id, f"L'étape « {label} » est relancée.", None)

    @expose("/<int:case_id>/corriger-email", methods=("POST",))
    def fix_email(self, case_id: int) -> Any:
        principal = acting_staff()
        self._visible_case(case_id)
        form = FixEmailForm(prefix="fix")
        if not form.validate_on_submit():
            return self._case_page(case_id, {"fix": form})
        try:
            email = case_actions.fix_email(
                runtime(),
                principal,
                case_id,
                form.version.data,
                form.email.data or "",
                form.comment.data,
            )
        except ValidationError as exc:
            form.email.errors = list(exc.errors)
        except IntegrityError:  # another request took the address in the meantime
            form.email.errors = ["Cette adresse est déjà celle d'un autre mandataire."]
        except (ConflictError, CaseNotFound) as exc:
            return self._done(case_id, None, exc)
        else:
            return self._done(
                case_id, f"Adresse corrigée ({email}) : l'invitation est renvoyée.", None
            )
        return self._case_page(case_id, {"fix": form})


def _link_to_case(view: CaseView, context: Any, model: Case, name: str) -> Markup:
    url = url_for(".case_page", case_id=model.id)
    return Markup('<a href="{}">#{}</a>').format(url, model.id)
