"""« Tâches »: the inbox of what staff must do (review, validate, send letters), by due
date, with « M'assigner »; a task past its due date has made its case stuck."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from admin import case_actions
from admin.access import StaffView, acting_staff, referring_page, staff
from admin.forms import CloseTaskForm
from web.runtime import runtime
from workflows.engine.errors import CaseNotFound, ConflictError
from workflows.models import Case, Task, TaskStatus
from workflows.scope import can_see, task_condition

PAGE_SIZE = 100
#: The inbox's views: « toutes », « à moi », « non assignées », « en retard ».
VIEWS = {"toutes": "Toutes", "moi": "Les miennes", "libres": "Non assignées", "retard": "En retard"}


class TaskView(StaffView, BaseView):
    def __init__(self, session: Any, **kwargs: Any) -> None:
        self.session = session
        super().__init__(**kwargs)

    @expose("/")
    def index(self) -> Any:
        principal = staff()
        now = runtime().engine.clock.now()
        which = request.args.get("vue", "toutes")
        if which not in VIEWS:
            which = "toutes"
        query = (
            select(Task)
            .where(Task.status == TaskStatus.OPEN.value, task_condition(principal))
            .options(joinedload(Task.case).joinedload(Case.coop), joinedload(Task.assignee))
            .order_by(Task.due_at, Task.id)
            .limit(PAGE_SIZE + 1)
        )
        if which == "moi":
            query = query.where(Task.assignee_id == principal.id)
        elif which == "libres":
            query = query.where(Task.assignee_id.is_(None))
        elif which == "retard":
            query = query.where(Task.due_at < now)
        tasks = list(self.session.scalars(query).unique())
        definitions = runtime().engine.definitions
        return self.render(
            "coopflow_admin/tasks.html",
            tasks=tasks[:PAGE_SIZE],
            more=len(tasks) > PAGE_SIZE,
            views=VIEWS,
            which=which,
            now=now,
            titles={name: d.title for name, d in definitions.items()},
            can_act=principal.can_act,
        )

    @expose("/<int:task_id>/prendre", methods=("POST",))
    def take(self, task_id: int) -> Any:
        principal = acting_staff()  # CSRF: checked for every POST by CSRFProtect
        try:
            case_actions.take_task(runtime(), principal, task_id)
        except CaseNotFound:
            abort(404)
        except ConflictError as exc:
            flash(str(exc), "error")
        else:
            flash("La tâche vous est assignée.", "success")
        return redirect(referring_page(url_for(".index")))

    @expose("/<int:task_id>/terminer", methods=("POST",))
    def close(self, task_id: int) -> Any:
        principal = acting_staff()
        task = self.session.get(Task, task_id)
        if task is None or not can_see(principal, task.ad_id):
            abort(404)  # before reading the form: nothing about another AD's task
        form = CloseTaskForm(prefix="close")
        if not form.validate_on_submit():
            flash(" ".join(form.comment.errors), "error")
            return redirect(referring_page(url_for(".index")))
        try:
            case_id = case_actions.close_task(
                runtime(), principal, task_id, form.comment.data or ""
            )
        except CaseNotFound:
            abort(404)
        except ConflictError as exc:
            flash(str(exc), "error")
            return redirect(referring_page(url_for(".index")))
        flash("Tâche marquée comme faite.", "success")
        return redirect(url_for("cases.case_page", case_id=case_id))
