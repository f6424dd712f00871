"""« Actions groupées »: one action over the ticked cases or over a whole filter.

The case lists hold the form (macro ``bulk_form`` of ``_bulk.html``). Posting it
snapshots the selection as a draft job (:mod:`workflows.engine.bulk`) and shows what would be
done; « Confirmer » hands the job to a worker. The job's page follows the progress by
itself, then reports each case, what the job did and what became of the case since
(:mod:`admin.bulk_report`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import Admin, BaseView, expose
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired

from admin.access import StaffView, acting_staff, back_office_next, staff
from admin.bulk_report import STATUSES, JobPages, plural
from admin.queries import ME, NOBODY, CaseFilters, as_id, matching
from web.auth import StaffPrincipal, current_staff
from web.forms import text_field
from web.runtime import runtime
from web.submissions import Submission, staff_owner
from workflows.engine import bulk, bulk_actions
from workflows.engine.definition import Definition
from workflows.engine.engine import UnitOfWork
from workflows.engine.errors import BulkJobNotFound, ConflictError, ValidationError
from workflows.models import (
    BulkJob,
    Case,
    StaffUser,
)
from workflows.scope import acting_staff_condition

#: Jobs on the « Actions groupées » page.
RECENT = 50
NO_SCOPE = "Choisissez « Appliquer aux dossiers cochés » ou « Appliquer à tout le filtre »."


class BulkForm(FlaskForm):
    """The list's bulk form; the ticked ``case_id`` and the filter's fields are read from
    the request as they are, like the list reads them."""

    portee = StringField()
    action = StringField(validators=[DataRequired("Choisissez une action.")])
    assignee = StringField()
    comment = text_field(
        TextAreaField,
        None,
        max_length=2000,
        too_long="Commentaire trop long (2 000 caractères au plus).",
        missing=bulk.COMMENT_REQUIRED,
    )
    retour = HiddenField()


class JobForm(FlaskForm):
    """« Confirmer » and « Abandonner »: nothing but the CSRF token and the way back."""

    retour = HiddenField()


@dataclass(frozen=True)
class FormOptions:
    """What the list's bulk form offers: ``(value, label)`` actions and assignees."""

    actions: list[tuple[str, str]]
    assignees: list[tuple[str, str]]


def action_choices(definitions: dict[str, Definition]) -> list[tuple[str, str]]:
    choices = [
        (f"fire:{t}", label) for t, label in bulk_actions.staff_triggers(definitions).items()
    ]
    return [*choices, ("retry_step", "Relancer l'étape en échec"), ("assign", "Assigner…")]


def assignee_choices(session: Any, principal: StaffPrincipal) -> list[tuple[str, str]]:
    """« moi », « personne », then the active staff who act in the principal's scope."""
    query = select(StaffUser).where(acting_staff_condition(principal), StaffUser.id != principal.id)
    people = session.scalars(query.order_by(StaffUser.full_name)).all()
    return [
        (ME, "moi"),
        (NOBODY, "personne"),
        *((str(p.id), f"{p.full_name} ({p.ad.code if p.ad else 'national'})") for p in people),
    ]


def parse_action(
    value: str, assignee: str, principal: StaffPrincipal
) -> tuple[str, dict[str, Any]]:
    """``fire:resend``, ``retry_step`` or ``assign`` (with ``moi``, ``personne`` or an
    id) as the action and parameters of :func:`workflows.engine.bulk.create`."""
    action, _, trigger = value.partition(":")
    if action == bulk_actions.FIRE:
        return action, {"trigger": trigger}
    if action == bulk_actions.ASSIGN:
        if assignee == ME:
            return action, {"assignee_id": principal.id}
        if assignee == NOBODY:
            return action, {"assignee_id": None}
        if (assignee_id := as_id(assignee)) is not None:
            return action, {"assignee_id": assignee_id}
        raise ValidationError("Choisissez à qui assigner les dossiers.")
    return action, {}


class BulkView(JobPages, StaffView, BaseView):
    """« Actions groupées »: this staff member's jobs, creating, confirming and abandoning
    one; its page and report are :class:`admin.bulk_report.JobPages`'."""

    def __init__(self, session: Any, definitions: dict[str, Definition], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.definitions = definitions

    def is_visible(self) -> bool:
        principal = current_staff()
        return principal is not None and principal.can_act

    # Pages ---------------------------------------------------------------------------

    @expose("/")
    def index(self) -> Any:
        """This staff member's recent jobs, the newest first."""
        principal = staff()
        jobs = self.session.scalars(
            select(BulkJob)
            .where(BulkJob.staff_id == principal.id)
            .order_by(BulkJob.id.desc())
            .limit(RECENT)
        ).all()
        return self.render(
            "coopflow_admin/bulk_list.html",
            jobs=[(job, self._label(job), bulk.Progress.of(job)) for job in jobs],
            statuses=STATUSES,
        )

    # Actions -------------------------------------------------------------------------

    @expose("/creer", methods=("POST",))
    def create(self) -> Any:
        """Snapshot the selection as a draft, then show it for confirmation."""
        principal = acting_staff()
        form = BulkForm()
        retour = back_office_next(form.retour.data)
        if not form.validate_on_submit():
            errors = [e for field in form for e in field.errors]
            return self._refused(errors, retour)
        rt = runtime()
        try:
            action, params = parse_action(
                form.action.data or "", form.assignee.data or "", principal
            )
            with rt.engine.transaction() as tx:
                ids, description = self._selection(tx, principal, form.portee.data or "")
                job = bulk.create(
                    tx,
                    staff_id=principal.id,
                    action=action,
                    params=params,
                    case_ids=ids,
                    comment=form.comment.data or "",
                    description=description,
                )
                job_id = job.id
        except ValidationError as exc:
            return self._refused(exc.errors, retour)
        return redirect(url_for(".job_page", job_id=job_id, retour=retour), 303)

    def _selection(self, tx: Any, principal: StaffPrincipal, portee: str) -> tuple[list[int], str]:
        if portee == "filtre":
            filters = CaseFilters.from_args(request.form)
            ids = list(
                tx.session.scalars(
                    matching(principal, filters, tx.now)
                    .with_only_columns(Case.id)
                    .limit(bulk.MAX_CASES + 1)
                )
            )
            if not ids:
                raise ValidationError("Aucun dossier ne correspond à ce filtre.")
            return ids, filters.describe(self.definitions)
        if portee == "selection":
            raw = request.form.getlist("case_id")
            typed = [as_id(value) for value in raw]
            if None in typed:
                raise ValidationError("Sélection invalide : rechargez la liste.")
            ids = list(dict.fromkeys(i for i in typed if i is not None))
            if not ids:
                raise ValidationError("Aucun dossier coché : cochez au moins un dossier.")
            n = len(ids)
            return ids, f"{plural(n, 'dossier')} coché{'s' if n > 1 else ''}"
        raise ValidationError(NO_SCOPE)

    def _refused(self, errors: list[str], retour: str) -> Any:
        page = self.render("coopflow_admin/bulk_refused.html", errors=errors, retour=retour)
        return page, 422

    def _act_on_job(
        self, job_id: int, act: Callable[[UnitOfWork, int, int], Any]
    ) -> tuple[JobForm, ConflictError | None]:
        """Confirm or abandon a job: its form checked, then ``act`` in one transaction;
        returns the form and the refusal (already flashed), if any."""
        principal = acting_staff()
        form = JobForm()
        if not form.validate_on_submit():
            abort(400)
        self._job(job_id, principal)
        try:
            with runtime().engine.transaction() as tx:
                act(tx, job_id, principal.id)
        except BulkJobNotFound:
            abort(404)
        except ConflictError as exc:
            flash(str(exc), "error")
            return form, exc
        return form, None

    @expose("/<int:job_id>/confirmer", methods=("POST",))
    def confirm(self, job_id: int) -> Any:
        """Once per rendering of the page (web.submissions): a second click leads to the
        job's page, without « déjà confirmée »."""
        once = Submission(staff_owner(acting_staff().id))
        page = url_for(".job_page", job_id=job_id)

        def confirm_once(tx: UnitOfWork, job_id: int, staff_id: int) -> None:
            if once.claim(tx.session):
                bulk.confirm(tx, job_id, staff_id)
                once.done(tx.session, page)

        self._act_on_job(job_id, confirm_once)
        return once.replay() if once.replayed else redirect(page, 303)

    @expose("/<int:job_id>/abandonner", methods=("POST",))
    def abandon(self, job_id: int) -> Any:
        form, refused = self._act_on_job(job_id, bulk.abandon)
        if refused is not None:
            return redirect(url_for(".job_page", job_id=job_id), 303)
        flash("Action groupée abandonnée : aucun dossier n'a été modifié.", "info")
        return redirect(back_office_next(form.retour.data), 303)


def register(admin: Admin, session: Any) -> None:
    """Add « Actions groupées » to ``admin``, and what the lists' ``bulk_form`` needs."""
    definitions = admin.app.extensions["coopflow"].engine.definitions  # type: ignore[union-attr]
    admin.add_view(
        BulkView(
            session, definitions, name="Actions groupées", endpoint="bulk", url="actions-groupees"
        )
    )

    def bulk_form_options(definitions: dict[str, Definition]) -> FormOptions | None:
        """For the macro: ``None`` when the staff member may not act (read-only)."""
        principal = current_staff()
        if principal is None or not principal.can_act:
            return None
        return FormOptions(action_choices(definitions), assignee_choices(session, principal))

    admin.app.jinja_env.globals["bulk_form_options"] = bulk_form_options  # type: ignore[union-attr]
