"""« Lettres à envoyer »: the letters to La Banque Postale (*demande de clôture et de
reversement du solde*) waiting to be posted, for the coops of the staff member's scope;
« Télécharger les lettres du jour (un seul PDF) » joins them to print at once, and
« Marquer comme envoyées » records the ticked ones posted (``mark_sent``, the day in
``case.data["letter"]["sent_on"]``), one transaction per case: a case that moved on
meanwhile is refused with why, in French, and the others are marked.

« Du jour » is every letter not marked sent yet, whatever the day it was made: a letter
made yesterday and not posted is still to post today. « Prêtes le » narrows the list
(and the PDF) to the letters made on one day, in Paris.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_admin import Admin, BaseView, expose
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, joinedload
from wtforms.validators import Optional

from admin.access import StaffView, acting_staff, staff
from admin.case_actions import lock_visible
from admin.processes.affiliation_forms import DayField
from admin.processes.transfer_forms import LettersSentForm, paris_today
from admin.queries import as_id
from web.auth import StaffPrincipal
from web.runtime import Runtime, runtime
from workers.documents.join import join_pdfs
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import CaseNotFound, ConflictError
from workflows.formatting import PARIS, euros
from workflows.models import Case, Coop, Document
from workflows.processes.banque_postale_transfer.attestation import declared_cents
from workflows.processes.banque_postale_transfer.definition import PROCESS, READY_TO_SEND
from workflows.scope import case_condition

#: The kind of the letter the step ``render_transfer_request`` stores.
LETTER_KIND = "transfer_request"
#: The letters one page lists and one PDF joins (the oldest first): marked sent, the
#: next ones show.
MAX_LETTERS = 300
NONE_TICKED = "Cochez au moins une lettre envoyée."
TOO_MANY = f"Cochez au plus {MAX_LETTERS} lettres à la fois."
BAD_SELECTION = "Sélection illisible : rechargez la page."
NOTHING_TO_PRINT = "Aucune lettre à envoyer : rien à télécharger."


@dataclass(frozen=True)
class LetterLine:
    """One case waiting for its letter to be posted, as the list shows it."""

    case: Case
    letter: Document | None
    declared: str


def letters_of(session: Session, case_ids: list[int]) -> dict[int, Document]:
    """The letter of each case (its newest ``transfer_request``), without its content."""
    if not case_ids:
        return {}
    found = session.scalars(
        select(Document)
        .where(Document.case_id.in_(case_ids), Document.kind == LETTER_KIND)
        .options(defer(Document.content))
        .order_by(Document.id)
    )
    return {d.case_id: d for d in found if d.case_id is not None}


def _paris_day(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0, 0), tzinfo=PARIS)
    return start, datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=PARIS)


def waiting(
    session: Session, principal: StaffPrincipal, day: date | None = None
) -> tuple[list[LetterLine], int]:
    """The cases of the scope whose letter waits to be posted (made on ``day`` in Paris,
    if given), the oldest first, at most :data:`MAX_LETTERS`; and how many there are."""
    where = [Case.process == PROCESS, Case.state == READY_TO_SEND, case_condition(principal)]
    if day is not None:
        start, end = _paris_day(day)
        where += [Case.state_entered_at >= start, Case.state_entered_at < end]
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    cases = list(
        session.scalars(
            select(Case)
            .where(*where)
            .options(joinedload(Case.coop).joinedload(Coop.ad))
            .order_by(Case.state_entered_at, Case.id)
            .limit(MAX_LETTERS)
        )
    )
    letters = letters_of(session, [c.id for c in cases])
    lines = [LetterLine(c, letters.get(c.id), euros(declared_cents(c) or 0)) for c in cases]
    return lines, total


def mark_sent(
    tx: UnitOfWork,
    principal: StaffPrincipal,
    case_id: int,
    sent_on: date,
    comment: str | None,
    version: int | None = None,
) -> Case:
    """The case's letter posted on ``sent_on``: ``mark_sent`` fired and the day kept
    (``case.data["letter"]["sent_on"]``), in ``tx``; a :class:`ConflictError` when the
    case is no longer waiting for it."""
    case = lock_visible(tx, principal, case_id, version)
    if case.process != PROCESS:
        raise CaseNotFound(f"Dossier {case_id} introuvable.")
    day = sent_on.isoformat()
    note = f"Lettre envoyée à La Banque Postale le {sent_on.strftime('%d/%m/%Y')}."
    tx.fire(
        case_id,
        "mark_sent",
        actor=Actor.staff(principal),
        expected_version=version,
        payload={"sent_on": day},
        comment=f"{note} {comment}" if comment else note,
    )
    data = dict(case.data or {})
    case.data = {**data, "letter": {**(data.get("letter") or {}), "sent_on": day}}
    return case


def mark_many(
    rt: Runtime, principal: StaffPrincipal, case_ids: list[int], sent_on: date, comment: str | None
) -> tuple[int, list[str]]:
    """Each ticked letter marked sent in its own transaction: how many were, and why
    the others were not (in French, one sentence per case)."""
    done, refused = 0, []
    for case_id in case_ids:
        try:
            with rt.engine.transaction() as tx:
                mark_sent(tx, principal, case_id, sent_on, comment)
        except CaseNotFound:
            refused.append(f"Dossier n° {case_id} : introuvable.")
        except ConflictError as exc:
            refused.append(f"Dossier n° {case_id} : {exc}")
        else:
            done += 1
    return done, refused


class DayFilter(FlaskForm):
    """« Prêtes le »: read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    jour = DayField("Prêtes le", validators=[Optional()])


class LettersView(StaffView, BaseView):
    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def _day(self) -> tuple[DayFilter, date | None]:
        form = DayFilter(formdata=request.args)
        form.validate()
        return form, form.jour.data if not form.jour.errors else None

    def _page(
        self, sent_form: LettersSentForm, status: int = 200, selection_error: str | None = None
    ) -> Any:
        principal = staff()
        day_form, day = self._day()
        lines, total = waiting(self.session, principal, day)
        page = self.render(
            "coopflow_admin/processes/transfer_letters.html",
            day_form=day_form,
            day=day,
            lines=lines,
            total=total,
            form=sent_form if principal.can_act else None,
            ticked=set(request.form.getlist("case_id")),
            selection_error=selection_error,
            pdf_url=url_for(".letters_pdf", jour=day.isoformat() if day else None),
            two_sided_url=url_for(
                ".letters_pdf", jour=day.isoformat() if day else None, recto_verso="1"
            ),
            post_url=url_for(".mark", jour=day.isoformat() if day else None),
        )
        return page, status

    @expose("/")
    def index(self) -> Any:
        form = LettersSentForm(formdata=None)
        form.sent_on.data = paris_today()
        return self._page(form)

    @expose("/lettres.pdf")
    def letters_pdf(self) -> Any:
        """The listed letters as one PDF, in the list's order, to print at once."""
        _, day = self._day()
        lines, _ = waiting(self.session, staff(), day)
        ids = [line.letter.id for line in lines if line.letter is not None]
        if not ids:
            flash(NOTHING_TO_PRINT, "info")
            return redirect(url_for(".index", jour=day.isoformat() if day else None))
        contents = {
            document_id: content
            for document_id, content in self.session.execute(
                select(Document.id, Document.content).where(Document.id.in_(ids))
            )
        }
        try:
            joined = join_pdfs(
                [contents[i] for i in ids], two_sided=request.args.get("recto_verso") == "1"
            )
        except ValueError as exc:  # a letter that is no readable PDF: say which
            flash(f"Impossible de joindre les lettres : {exc}", "error")
            return redirect(url_for(".index", jour=day.isoformat() if day else None))
        name = f"lettres-banque-postale-{(day or paris_today()).isoformat()}.pdf"
        response = Response(joined, mimetype="application/pdf")
        response.headers.set("Content-Disposition", "attachment", filename=name)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @expose("/marquer-envoyees", methods=("POST",))
    def mark(self) -> Any:
        principal = acting_staff()
        form = LettersSentForm()
        typed = [as_id(v) for v in request.form.getlist("case_id")]
        ids = list(dict.fromkeys(i for i in typed if i is not None))
        if not form.validate_on_submit():
            return self._page(form, 422)
        problem = (
            BAD_SELECTION
            if None in typed
            else NONE_TICKED
            if not ids
            else TOO_MANY
            if len(ids) > MAX_LETTERS
            else None
        )
        if problem:
            return self._page(form, 422, problem)
        assert form.sent_on.data is not None
        done, refused = mark_many(
            runtime(), principal, ids, form.sent_on.data, form.comment.data or None
        )
        if done:
            day = form.sent_on.data.strftime("%d/%m/%Y")
            word = "lettre marquée envoyée" if done == 1 else "lettres marquées envoyées"
            flash(
                f"{done} {word} (le {day}) : La Banque Postale doit reverser le solde.",
                "success",
            )
        for reason in refused:
            flash(f"Non marquée : {reason}", "error")
        return redirect(url_for(".index", jour=request.args.get("jour") or None), 303)


def register(admin: Admin, session: Any) -> None:
    """Adds « Lettres à envoyer » to the back-office's menu."""
    admin.add_view(
        LettersView(
            session,
            name="Lettres à envoyer",
            endpoint="transfer_letters",
            url="lettres-banque-postale",
        )
    )
