"""« Dossiers »: the cases in scope, filtered, and one page per case with its diagram,
audit trail, steps, tasks, emails and the actions staff may take now."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload, selectinload

from admin import case_actions, processes
from admin.access import StaffView, acting_staff, staff
from admin.case_actions import StaffAction
from admin.case_list import list_context, staff_choices
from admin.coop_processes import unmet_prerequisites, waits_for_prerequisites
from admin.diagrams import process_svg
from admin.emails import STATUSES
from admin.forms import ActionForm, AssignForm, CloseTaskForm, CommentForm, TaskForm
from admin.presenters import CasePresenter
from admin.queries import ME, NOBODY, CaseFilters, as_id
from web.auth import StaffPrincipal
from web.runtime import runtime
from workflows.engine.definition import STAFF, Definition
from workflows.engine.engine import UnitOfWork
from workflows.engine.errors import CaseNotFound, ConflictError, CoopflowError, ValidationError
from workflows.formatting import PARIS
from workflows.mandataires import latest_with_account
from workflows.models import Case, Document, Email, Mandataire, StepStatus, Task, Timer
from workflows.processes.space_check.coop_details import LOGO_KIND
from workflows.scope import case_condition

#: The forms every case page has for staff who may act (the others depend on the state).
ALWAYS_OFFERED = ("assign", "comment", "task")
NOT_OFFERED = (
    "Cette action n'est pas possible sur ce dossier dans son état actuel : rechargez la page."
)


class CaseView(StaffView, *processes.routes(), BaseView):
    """« Dossiers »: every case in scope, filtered; one page per case with its actions
    (and the routes of the processes' own staff actions: ``admin/processes``)."""

    def __init__(self, session: Any, definitions: dict[str, Definition], **kwargs: Any) -> None:
        self.session = session
        self.definitions = definitions
        super().__init__(**kwargs)

    def _definition(self, case: Case) -> Definition:
        return self.definitions[case.process]

    @expose("/")
    def index_view(self) -> Any:
        filters = CaseFilters.from_args(request.args)
        context = list_context(
            self.session, staff(), self.definitions, filters, endpoint="cases.index_view"
        )
        return self.render(
            "coopflow_admin/case_list.html",
            heading="Dossiers",
            definitions=self.definitions,
            **context,
        )

    def _visible_case(self, case_id: int) -> Case:
        found = self.session.scalars(
            select(Case)
            .where(Case.id == case_id, case_condition(staff()))
            .options(
                joinedload(Case.coop),
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
        mandataire_id = case.data.get("mandataire_id")
        mandataire = (
            self.session.get(Mandataire, mandataire_id)
            if mandataire_id is not None
            # Processes other than the invitation: the coop's mandataire with an account.
            else latest_with_account(self.session, case.coop_id)
        )
        emails = self.session.scalars(
            select(Email).where(Email.case_id == case.id).order_by(Email.id.desc())
        ).all()

        def blank(form_class: type[Any], prefix: str) -> Any:
            return invalid.get(prefix) or form_class(
                prefix=prefix, version=case.version, formdata=None
            )

        actions: dict[str, Any] = {}
        offered_labels: dict[str, str] = {}
        retries: list[tuple[Any, Any]] = []
        own: list[tuple[StaffAction, Any]] = []
        task_pages: list[tuple[str, str]] = []
        if principal.can_act:
            # A trigger a task page fires is done there (with what it adds), not here.
            handled = processes.handled_by_pages(case)
            for t in UnitOfWork(runtime().engine, self.session).allowed(case, STAFF):
                if t.trigger in handled:
                    continue
                actions[t.trigger] = blank(ActionForm, t.trigger)
                # The label of the transition offered from this state (a verb).
                offered_labels[t.trigger] = t.label
            for step in case.steps:
                if step.status == StepStatus.FAILED.value and step.args.get("state") == case.state:
                    retries.append((step, blank(ActionForm, f"step{step.id}")))
            for action in processes.forms_of(case.process):
                if action.offered(case):
                    form = blank(action.form, action.prefix)
                    if action.prepare is not None:
                        action.prepare(form, self.session, case, action.prefix not in invalid)
                    own.append((action, form))
            for page in processes.pages_of(case.process):
                if page.offered(case):
                    task_pages.append((page.title, url_for(page.endpoint, case_id=case.id)))
            offered = {
                *actions,
                *(f"step{step.id}" for step, _ in retries),
                *(action.prefix for action, _ in own),
                *ALWAYS_OFFERED,
            }
            if set(invalid) - offered:  # its form is not on the page: say why it was refused
                flash(NOT_OFFERED, "error")
        view = CasePresenter(case, self._definition(case), self.definitions)
        recommended = view.recommended()
        forms: dict[str, Any] = {}
        action_urls: dict[str, str] = {}
        action_labels: dict[str, str] = {}
        labels = getattr(processes.PROCESS_ACTIONS.get(case.process), "ACTIONS", {})
        for action, form in own:
            forms[action.anchor] = form
            action_urls[action.anchor] = url_for(action.endpoint, case_id=case.id)
            action_labels[action.anchor] = labels[action.name]
        for step, form in retries:
            anchor = f"action-step{step.id}"
            forms[anchor] = form
            action_urls[anchor] = url_for(".retry", case_id=case.id, step_id=step.id)
            action_labels[anchor] = f"Relancer l'étape « {view.step(step)} »"
        for trigger, form in actions.items():
            anchor = f"action-{trigger}"
            forms[anchor] = form
            action_urls[anchor] = url_for(".fire", case_id=case.id, trigger=trigger)
            action_labels[anchor] = offered_labels[trigger]
        assign_form = comment_form = task_form = None
        if principal.can_act:
            assign_form = invalid.get("assign") or AssignForm(
                prefix="assign", version=case.version, formdata=None
            )
            assign_form.assignee.choices = self._assignees(principal, case)
            if invalid.get("assign") is None:  # a fresh form shows who has the case now
                assign_form.assignee.data = str(case.assignee_id or NOBODY)
            comment_form = invalid.get("comment") or CommentForm(prefix="comment", formdata=None)
            task_form = invalid.get("task") or TaskForm(prefix="task", formdata=None)
        tasks = self.session.scalars(
            select(Task).where(Task.case_id == case.id).order_by(Task.status.desc(), Task.due_at)
        ).all()
        now = runtime().engine.clock.now()
        definition = self._definition(case)
        state = definition.state_by_name.get(case.state)
        # What the process needs of the coop's other processes and does not have: why
        # it waits in its first state, or what no longer holds while it runs.
        unmet = (
            []
            if state is None or state.final
            else unmet_prerequisites(self.session, case.coop_id, definition, self.definitions, now)
        )
        page = self.render(
            "coopflow_admin/case.html",
            case=case,
            view=view,
            recommended=recommended,
            diagram=process_svg(self._definition(case), case.state),
            forms=forms,
            task_pages=task_pages,
            action_urls=action_urls,
            action_labels=action_labels,
            assign_form=assign_form,
            comment_form=comment_form,
            task_form=task_form,
            close_form=CloseTaskForm(prefix="close", formdata=None) if principal.can_act else None,
            tasks=tasks,
            now=now,
            unmet=unmet,
            waiting=waits_for_prerequisites(definition, case),
            mandataire=mandataire,
            emails=emails,
            # The case's documents (its commitment, its attestations...), downloaded as
            # from the coop's page.
            documents=self.session.scalars(
                select(Document)
                .where(Document.case_id == case.id, Document.kind != LOGO_KIND)
                .options(defer(Document.content))
                .order_by(Document.created_at.desc(), Document.id.desc())
            ).all(),
            can_act=principal.can_act,
            email_statuses=STATUSES,
            history=view.history(),
            deadlines=view.deadlines(
                self.session.scalars(
                    select(Timer).where(Timer.case_id == case.id, Timer.closed_at.is_(None))
                )
            ),
        )
        return page, 422 if invalid else 200

    def _assignees(self, principal: StaffPrincipal, case: Case) -> list[tuple[str, str]]:
        """The assignment select: « personne », then who may take the case; the current
        assignee is always there (shown as selected), even one who no longer may."""
        people = staff_choices(self.session, principal, case.ad_id)
        choices = [(NOBODY, "personne"), *((str(s.id), s.full_name) for s in people)]
        if case.assignee is not None and case.assignee_id not in {s.id for s in people}:
            choices.append(
                (str(case.assignee_id), f"{case.assignee.full_name} (ne peut plus le traiter)")
            )
        return choices

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
        case = self._visible_case(case_id)
        form = ActionForm(prefix=trigger)
        if trigger in processes.handled_by_pages(case):
            flash(NOT_OFFERED, "error")
            return redirect(url_for(".case_page", case_id=case_id))
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

    def staff_action(self, case_id: int, action: StaffAction) -> Any:
        """The route of a process's own action (``admin/processes``) posts here."""
        principal = acting_staff()
        case = self._visible_case(case_id)
        form = action.form(prefix=action.prefix)
        if action.prepare is not None:
            action.prepare(form, self.session, case, False)
        if not form.validate_on_submit():
            return self._case_page(case_id, {action.prefix: form})
        try:
            message = action.perform(runtime(), principal, case_id, form)
        except ValidationError as exc:
            form[action.field].errors = list(exc.errors)
        except (ConflictError, CaseNotFound) as exc:
            return self._done(case_id, None, exc)
        else:
            return self._done(case_id, message, None)
        return self._case_page(case_id, {action.prefix: form})

    @expose("/<int:case_id>/assigner", methods=("POST",))
    def assign(self, case_id: int) -> Any:
        principal = acting_staff()
        self._visible_case(case_id)
        form = AssignForm(prefix="assign")
        if not form.validate_on_submit():
            return self._case_page(case_id, {"assign": form})
        # Two buttons, two values of one name: « M'assigner » (``moi``) never depends on
        # the select; « Assigner » (``choix``, or no button: a form sent by Enter) reads it.
        raw = form.assignee.data or ""
        if request.form.get("assign-bouton") == ME or raw == ME:
            raw = str(principal.id)
        nobody = raw in (NOBODY, "")  # "": the select's value for nobody before « personne »
        assignee_id = None if nobody else as_id(raw)
        if not nobody and assignee_id is None:
            form.assignee.errors = ["Choisissez un membre de l'équipe dans la liste."]
            return self._case_page(case_id, {"assign": form})
        try:
            name = case_actions.assign(
                runtime(),
                principal,
                case_id,
                form.version.data,
                assignee_id,
                form.comment.data,
            )
        except ValidationError as exc:
            form.assignee.errors = list(exc.errors)
            return self._case_page(case_id, {"assign": form})
        except (ConflictError, CaseNotFound) as exc:
            return self._done(case_id, None, exc)
        return self._done(case_id, f"Dossier assigné à {name}.", None)

    @expose("/<int:case_id>/commenter", methods=("POST",))
    def comment(self, case_id: int) -> Any:
        principal = acting_staff()
        self._visible_case(case_id)
        form = CommentForm(prefix="comment")
        if not form.validate_on_submit():
            return self._case_page(case_id, {"comment": form})
        try:
            case_actions.annotate(runtime(), principal, case_id, form.text.data or "")
        except CaseNotFound as exc:
            return self._done(case_id, None, exc)
        return self._done(case_id, "Commentaire ajouté à l'historique.", None)

    @expose("/<int:case_id>/taches", methods=("POST",))
    def add_task(self, case_id: int) -> Any:
        principal = acting_staff()
        self._visible_case(case_id)
        form = TaskForm(prefix="task")
        if not form.validate_on_submit():
            return self._case_page(case_id, {"task": form})
        assert form.due.data is not None
        # Due at the end of the chosen day, Paris time.
        due = datetime.combine(form.due.data, time(18, 0), tzinfo=PARIS)
        try:
            case_actions.open_task(
                runtime(), principal, case_id, form.title.data or "", due, form.note.data
            )
        except ValidationError as exc:
            form.due.errors = list(exc.errors)
            return self._case_page(case_id, {"task": form})
        except CaseNotFound as exc:
            return self._done(case_id, None, exc)
        return self._done(case_id, "Tâche créée.", None)
