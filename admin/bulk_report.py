"""The page of a bulk job and its report: what would be done (a draft), the progress
(the page reloads itself while the job runs: a ``<meta http-equiv="refresh">``, no
script, for the CSP; ``/progression`` gives the same figures as JSON), then each case,
done or skipped and why, and what became of it since
(:mod:`workflows.engine.bulk_report`: no longer stuck, its step still to run, stuck
again and why). The report can keep only the cases stuck now, and be exported (CSV,
XLSX) with the same filter.

Mixed into :class:`admin.bulk.BulkView`, which gives it ``session`` and ``definitions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import abort, jsonify, request, url_for
from flask_admin import expose
from sqlalchemy import func, select

from admin.access import back_office_next, staff
from admin.export import Column, export_response
from admin.queries import as_id
from web.auth import StaffPrincipal
from workflows.engine import bulk, bulk_actions, bulk_report
from workflows.engine.bulk_report import STILL_STUCK, Aftermath
from workflows.engine.definition import Definition
from workflows.formatting import french_spacing
from workflows.models import BulkItem, BulkItemStatus, BulkJob, BulkStatus, Case, Coop
from workflows.scope import case_condition

#: Report lines per page of a job.
PAGE_SIZE = 50
#: A report page number beyond any job's size (jobs are capped far below).
MAX_PAGE = 1_000_000
STATUSES = {
    BulkStatus.DRAFT.value: "à confirmer",
    BulkStatus.PENDING.value: "en cours",
    BulkStatus.RUNNING.value: "en cours",
    BulkStatus.DONE.value: "terminée",
}
OUTCOMES = {
    BulkItemStatus.PENDING.value: "en attente",
    BulkItemStatus.DONE.value: "fait",
    BulkItemStatus.SKIPPED.value: "ignoré",
}
#: Seconds between two reloads of a job's page while it runs, and while the steps it
#: queued have not all run (a retry waiting for its next attempt: less often).
REFRESH_RUNNING, REFRESH_FOLLOWING = 2, 10
#: The report's filters: by outcome, or the cases stuck now.
FILTERS = {**OUTCOMES, STILL_STUCK: "encore bloqués"}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


class JobPages:
    """A job's page, its progress and its report, for its author only."""

    session: Any
    definitions: dict[str, Definition]
    render: Any

    def _job(self, job_id: int, principal: StaffPrincipal) -> BulkJob:
        """The job, if it is this staff member's own; 404 otherwise."""
        job = self.session.get(BulkJob, job_id, populate_existing=True)
        if job is None or job.staff_id != principal.id:
            abort(404)
        return job

    def _label(self, job: BulkJob) -> str:
        return bulk_actions.action_label(self.definitions, job.action, job.params)

    def _report(self, job: BulkJob, principal: StaffPrincipal, outcome: str) -> Any:
        """The job's items with their case and coop, filtered (``outcome``: an item's
        status, or the cases still stuck), in the order of the selection."""
        query = (
            select(BulkItem, Case, Coop)
            .join(Case, BulkItem.case_id == Case.id)
            .join(Coop, Case.coop_id == Coop.id)
            .where(BulkItem.job_id == job.id, case_condition(principal))
        )
        if outcome == STILL_STUCK:
            query = query.where(Case.stuck_reason.is_not(None))
        elif outcome:
            query = query.where(BulkItem.status == outcome)
        return query.order_by(BulkItem.id)

    def _aftermaths(
        self, job: BulkJob, rows: list[tuple[BulkItem, Case, Coop]]
    ) -> list[Aftermath | None]:
        steps = bulk_report.unfinished_steps(self.session, (case.id for _, case, _ in rows))
        return [
            bulk_report.aftermath(
                job, item, case, self.definitions.get(case.process), steps.get(case.id, ())
            )
            for item, case, _ in rows
        ]

    def _filter(self) -> str:
        outcome = request.args.get("statut", "")
        return outcome if outcome in FILTERS else ""

    @expose("/<int:job_id>")
    def job_page(self, job_id: int) -> Any:
        """A draft: what would be done, and « Confirmer ». Afterwards: the progress, then
        the report, a page at a time, with what became of each case since."""
        principal = staff()
        job = self._job(job_id, principal)
        outcome = self._filter()
        # Past the last page the report is empty; past MAX_PAGE, the first page.
        page_number = as_id(request.args.get("page", "1")) or 1
        if page_number > MAX_PAGE:
            page_number = 1
        rows = [
            (item, case, coop)
            for item, case, coop in self.session.execute(
                self._report(job, principal, outcome)
                .offset((page_number - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE + 1)
            )
        ]
        counts = dict(
            self.session.execute(
                select(BulkItem.status, func.count())
                .where(BulkItem.job_id == job.id)
                .group_by(BulkItem.status)
            ).all()
        )
        if job.status != BulkStatus.DRAFT.value:
            counts[STILL_STUCK] = self.session.scalar(
                self._report(job, principal, STILL_STUCK)
                .with_only_columns(func.count())
                .order_by(None)
            )
        retour = back_office_next(request.args.get("retour"))
        shown = rows[:PAGE_SIZE]
        aftermaths = self._aftermaths(job, shown)
        progress = bulk.Progress.of(job)
        refresh = None
        if job.status in bulk.ACTIVE:
            refresh = REFRESH_RUNNING
        elif any(a is not None and a.fate == bulk_report.Fate.RUNNING for a in aftermaths):
            refresh = REFRESH_FOLLOWING

        def page_url(number: int) -> str:
            return url_for(".job_page", job_id=job.id, statut=outcome or None, page=number)

        return self.render(
            "coopflow_admin/bulk_job.html",
            job=job,
            label=self._label(job),
            progress=progress,
            status=STATUSES.get(job.status, job.status),
            rows=[(*row, after) for row, after in zip(shown, aftermaths, strict=True)],
            followed=job.action in bulk_report.FOLLOWED,
            counts=counts,
            outcome=outcome,
            outcomes=OUTCOMES,
            filters=FILTERS,
            state_label=self._state_label,
            previous_url=page_url(page_number - 1) if page_number > 1 else None,
            next_url=page_url(page_number + 1) if len(rows) > PAGE_SIZE else None,
            retour=retour,
            summary=self._summary(job),
            refresh=refresh,
            french=french_spacing,
        )

    @expose("/<int:job_id>/rapport.<fmt>")
    def export(self, job_id: int, fmt: str) -> Any:
        """The report as a file (CSV or XLSX), with the page's filter."""
        principal = staff()
        job = self._job(job_id, principal)
        outcome = self._filter()
        columns = [
            Column("Dossier", lambda r: r[1].id),
            Column("Coopérative", lambda r: r[2].name),
            Column("N° d'affiliation", lambda r: r[2].affiliation_number),
            Column("Processus", lambda r: self._title(r[1])),
            Column("État actuel", lambda r: self._state_label(r[1])),
            Column("Résultat", lambda r: OUTCOMES.get(r[0].status, r[0].status)),
            Column("Détail", lambda r: r[0].message or ""),
            Column("Traité le", lambda r: r[0].processed_at),
            Column("Depuis l'action", lambda r: r[3].name if r[3] else ""),
            Column("Précisions", lambda r: r[3].text if r[3] else ""),
            Column("Encore bloqué", lambda r: r[1].stuck_reason is not None),
        ]
        name = f"action-groupee-{job.id}" + (f"-{FILTERS[outcome]}" if outcome else "")
        return export_response(
            fmt,
            name,
            columns,
            self._report_rows(job, principal, outcome),
            max_rows=bulk.MAX_CASES,
        )

    def _report_rows(
        self, job: BulkJob, principal: StaffPrincipal, outcome: str
    ) -> Iterator[tuple[BulkItem, Case, Coop, Aftermath | None]]:
        """The report's rows with their aftermath, read a chunk at a time."""
        query = self._report(job, principal, outcome)
        offset = 0
        while True:
            chunk = [
                (item, case, coop)
                for item, case, coop in self.session.execute(
                    query.offset(offset).limit(PAGE_SIZE * 10)
                )
            ]
            if not chunk:
                return
            yield from (
                (*row, after)
                for row, after in zip(chunk, self._aftermaths(job, chunk), strict=True)
            )
            offset += len(chunk)

    def _title(self, case: Case) -> str:
        definition = self.definitions.get(case.process)
        return definition.title if definition else case.process

    def _state_label(self, case: Case) -> str:
        definition = self.definitions.get(case.process)
        state = definition.state_by_name.get(case.state) if definition else None
        return state.label if state else case.state

    def _summary(self, job: BulkJob) -> str:
        """« 37 dossiers seront traités : Renvoyer l'invitation — dossiers bloqués, … »."""
        verb = "sera traité" if job.total == 1 else "seront traités"
        return f"{plural(job.total, 'dossier')} {verb} : {self._label(job)} — {job.description}"

    @expose("/<int:job_id>/progression")
    def progress(self, job_id: int) -> Any:
        job = self._job(job_id, staff())
        p = bulk.Progress.of(job)
        response = jsonify(
            status=p.status,
            label=STATUSES.get(p.status, p.status),
            total=p.total,
            done=p.done,
            skipped=p.skipped,
            processed=p.processed,
            remaining=p.remaining,
            percent=p.percent,
            finished=p.finished,
        )
        response.headers["Cache-Control"] = "no-store"
        return response
