"""« Affiliation de l'année » (seed 004): the coop's yearly membership of its AD.

While the case is editable (draft, returned, overdue) the mandataire fills the form:
the classes (added, edited, removed; carried over from last year's validated case),
the options of the AD's price list, a voluntary participation, an optional change of
mandataire or signatories. The page runs no script (the portal's CSP): every button
posts the whole form (:mod:`web.portal.affiliation_form`); « Mettre à jour le montant »
saves it and the page shows the fee recomputed, exact in cents, from the price list.
A refusal stores nothing and shows each French message next to its field.

« Envoyer l'adhésion » freezes the fee into the case and fires ``submit``; the page then
shows the payment reference, what to send to the AD, the documents of the case (the
commitment to sign, the attestations once validated) and the staff's checks.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session, defer
from werkzeug.wrappers import Response

from web.auth import mandataire_required
from web.portal.affiliation_form import (
    UNKNOWN_OPTION,
    Posted,
    index_of,
    parse,
    posted,
    shown,
    summary,
)
from web.portal.checklist import waiting_reasons
from web.runtime import runtime
from web.submissions import Submission, mandataire_owner
from workflows.engine.cross_process import school_year_label, school_year_of
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import ConflictError, TransitionNotAllowed
from workflows.models import Case, Coop, Document, Mandataire
from workflows.processes.affiliation import calendar
from workflows.processes.affiliation.definition import (
    DEFINITION,
    EDITABLE,
    PROCESS,
    RETURNED,
    SUBMITTED,
    VALIDATED,
)
from workflows.processes.affiliation.fee import (
    Fee,
    PriceList,
    UnknownOption,
    compute,
    price_list,
)
from workflows.processes.affiliation.form import (
    CHANGE_FORM,
    CHECK_ITEMS,
    COMMITMENT,
    MAX_CLASSES,
    PAYMENT,
    AffiliationForm,
    FormError,
    form_of,
    missing_for_submission,
    payment_reference,
)

bp = Blueprint("affiliation", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {state: "portal.affiliation.page" for state in EDITABLE}

#: Seconds between two reloads while the commitment is being prepared.
REFRESH = 3
NOT_OPEN = "L'adhésion de cette année n'est pas encore ouverte : rien n'a été enregistré."
ALREADY_SENT = (
    "Votre adhésion est déjà envoyée à votre AD : elle ne peut plus être modifiée et rien "
    "n'a été enregistré. La page ci-dessous dit où elle en est."
)
CLOSED = "L'adhésion de cette année est close : rien n'a été enregistré."
SENT = (
    "Votre adhésion est envoyée. Votre engagement du mandataire sera prêt dans quelques "
    "instants : datez-le, signez-le et envoyez-le à votre AD avec le paiement."
)
#: The three papers the mandataire sends, as seed 004 words them, by staff check.
PAPERS = {
    PAYMENT: "le paiement de {total}",
    COMMITMENT: "l'engagement du mandataire daté et signé",
    CHANGE_FORM: "et, éventuellement, le formulaire de changement de mandataire ou de signataires",
}
ATTESTATIONS = ("attestation_adhesion", "attestation_assurance")


def prices_missing(year: int) -> str:
    return (
        f"Les tarifs de votre AD pour l'année {school_year_label(year)} ne sont pas encore "
        "publiés : vous pourrez envoyer l'adhésion dès qu'ils le seront."
    )


class PricesMissing(ValueError):
    """The AD's price list of the year lacks its flat fee, or a price per pupil or
    per teacher: the fee cannot be frozen."""


# Pages ------------------------------------------------------------------------------


@bp.get("/mon-espace/adhesion")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/mon-espace/adhesion")
@mandataire_required
def save():  # type: ignore[no-untyped-def]
    """Every button but « Envoyer »: « Mettre à jour le montant », « Ajouter la classe »,
    « Supprimer ». The form is stored whole (``data["form"]``) and ``save`` fired, or
    nothing is and the page says why next to each field."""
    once = _once()
    if _repeated(once):
        return once.replay()
    raw = posted(request.form)
    remove = index_of(request.form.get("remove"))
    adding = request.form.get("action") == "ajouter"
    add = index_of(request.form.get("new_row")) if adding else None
    refused = _not_editable()
    if refused is not None:
        return _page(409, conflict=refused)
    try:
        new = parse(raw, _offered(), remove=remove, add=add)
    except FormError as exc:
        return _page(422, raw=raw, errors=exc.errors)
    removed = next((r.name for r in raw.rows if r.index == remove), None)

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = _locked(tx)
        prices = price_list(tx.session, case.ad_id, case.school_year or 0)
        total = compute(prices, new).total_cents if prices.complete else None
        case.data = {**(case.data or {}), "form": new.to_data()}
        tx.fire(case.id, "save", actor=_actor(tx.session), payload=summary(new, total))
        return ("success", _saved(new, total, removed=removed, added=adding))

    anchor = "classes" if adding or remove is not None else "montant"
    try:  # a second click gets the first one's answer
        return once.run(runtime().engine, work, url_for(".page", _anchor=anchor))
    except ConflictError as exc:
        return _page(409, conflict=str(exc))


@bp.post("/mon-espace/adhesion/envoyer")
@mandataire_required
def submit():  # type: ignore[no-untyped-def]
    """« Envoyer l'adhésion »: the form checked as by a save, at least one class, the
    price list complete; then the fee frozen into the case and ``submit`` fired."""
    once = _once()
    if _repeated(once):
        return once.replay()
    raw = posted(request.form)
    refused = _not_editable()
    if refused is not None:
        return _page(409, conflict=refused)
    try:
        new = parse(raw, _offered())
    except FormError as exc:
        return _page(422, raw=raw, errors=exc.errors)
    missing = missing_for_submission(new)
    if missing:
        return _page(422, raw=raw, errors={"classes": missing[0]})

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = _locked(tx)
        year = case.school_year or 0
        prices = price_list(tx.session, case.ad_id, year)
        if not prices.complete:
            raise PricesMissing(prices_missing(year))
        fee = compute(prices, new)
        coop = tx.session.get(Coop, case.coop_id)
        assert coop is not None
        case.data = {
            **(case.data or {}),
            "form": new.to_data(),
            "fee": fee.to_data(),
            "reference": payment_reference(year, coop.affiliation_number),
        }
        payload = summary(new, fee.total_cents)
        tx.fire(case.id, "submit", actor=_actor(tx.session), payload=payload)
        return ("success", SENT)

    try:
        return once.run(runtime().engine, work, url_for(".page", _anchor="envoi"))
    except PricesMissing as exc:
        return _page(422, raw=raw, prices_error=str(exc))
    except UnknownOption:  # the list changed between the check and the transaction
        return _page(422, raw=raw, errors={"options": UNKNOWN_OPTION})
    except ConflictError as exc:
        return _page(409, conflict=str(exc))


# Reading ----------------------------------------------------------------------------


def affiliation_case(session: Session, coop_id: int, year: int) -> Case | None:
    """The coop's affiliation case of school year ``year``, if it has one."""
    return session.scalars(
        select(Case)
        .where(Case.coop_id == coop_id, Case.process == PROCESS, Case.school_year == year)
        .order_by(Case.id.desc())
        .limit(1)
    ).first()


def documents_of(session: Session, case: Case) -> list[Document]:
    """The case's documents, newest first (a commitment per submission)."""
    return list(
        session.scalars(
            select(Document)
            .where(Document.case_id == case.id)
            .options(defer(Document.content))
            .order_by(Document.created_at.desc(), Document.id.desc())
        )
    )


def shown_fee(prices: PriceList, form: AffiliationForm) -> Fee | None:
    """The fee of a form being edited, from the list as it is now; the options the
    list no longer has are not counted (the page no longer offers them)."""
    if not prices.complete:
        return None
    offered = {p.code for p in prices.options}
    counted = AffiliationForm(
        form.classes, [c for c in form.options if c in offered], form.voluntary_cents, form.change
    )
    return compute(prices, counted)


def the_ad(name: str) -> str:
    """« l'OCCE 06 » in a sentence (an AD named otherwise keeps its name)."""
    return f"l'{name}" if name.upper().startswith("OCCE") else name


def check_status(data: dict[str, Any], item: str) -> str:
    """« validé », « en attente » or, for the change form, « pas de changement »."""
    if item == CHANGE_FORM and form_of(data).change is None:
        return "pas de changement"
    return "validé" if item in (data.get("checks") or {}) else "en attente"


def _preparing(case: Case | None, documents: list[Document]) -> bool:
    """A document the mandataire waits for is being rendered: the commitment of a case
    just sent, the attestations of a case just validated."""
    if case is None:
        return False
    if case.state == SUBMITTED:
        return True
    return case.state == VALIDATED and not any(d.kind in ATTESTATIONS for d in documents)


# Writing ----------------------------------------------------------------------------


def _current(session: Session) -> Case | None:
    now = runtime().engine.clock.now()
    return affiliation_case(session, current_user.coop_id, school_year_of(now))


def _refusal(case: Case | None) -> str | None:
    """Why the case cannot be edited, in French (``None``: it can)."""
    if case is None:
        return NOT_OPEN
    if case.state in EDITABLE:
        return None
    return CLOSED if case.state == "closed" else ALREADY_SENT


def _not_editable() -> str | None:
    with runtime().db.read() as session:
        return _refusal(_current(session))


def _offered() -> set[str]:
    """The codes of the options of this year's price list of the coop's AD."""
    with runtime().db.read() as session:
        case = _current(session)
        if case is None:
            return set()
        return {p.code for p in price_list(session, case.ad_id, case.school_year or 0).options}


def _locked(tx: UnitOfWork) -> Case:
    """This year's case, locked, still editable (else a conflict, before any write)."""
    found = _current(tx.session)
    if found is None:
        raise TransitionNotAllowed(NOT_OPEN)
    case = tx.lock(found.id)
    refused = _refusal(case)
    if refused is not None:
        raise TransitionNotAllowed(refused)
    return case


def _saved(form: AffiliationForm, total: int | None, *, removed: str | None, added: bool) -> str:
    said = "Adhésion enregistrée."
    if removed is not None:
        said = f"Classe « {removed} » supprimée."
    elif added and form.classes:
        said = f"Classe « {form.classes[-1].name} » ajoutée."
    if total is not None:
        said += f" Montant de l'adhésion : {Fee((), total, None).total}."
    return said


def _once() -> Submission:
    return Submission(mandataire_owner(current_user.id))


def _repeated(once: Submission) -> bool:
    """A second click of a form already taken: answered as the first one was, before
    anything else is looked at (the case sent meanwhile is no conflict then)."""
    with runtime().db.read() as session:
        return once.earlier(session)


def _actor(session: Session) -> Actor:
    mandataire = session.get(Mandataire, current_user.id)
    if mandataire is None:
        abort(403)
    return Actor.mandataire(mandataire)


def _page(
    status: int = 200,
    *,
    raw: Posted | None = None,
    errors: dict[str, str] | None = None,
    conflict: str | None = None,
    prices_error: str | None = None,
) -> tuple[str, int] | Response:
    rt = runtime()
    now = rt.engine.clock.now()
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        if coop is None:
            abort(404)
        case = _current(session)
        year = (case.school_year or 0) if case is not None else school_year_of(now)
        data = (case.data or {}) if case is not None else {}
        form = form_of(data)
        prices = price_list(session, coop.ad_id, year)
        editable = case is not None and case.state in EDITABLE
        frozen = Fee.from_data(data["fee"]) if "fee" in data else None
        documents = documents_of(session, case) if case is not None else []
        fields = (raw or shown(form)).with_empty_row()
        context: dict[str, Any] = {
            "case": case,
            "coop": coop,
            "ad": coop.ad,
            "the_ad": the_ad(coop.ad.name),
            "year_label": school_year_label(year),
            "state_label": DEFINITION.portal_label(case.state) if case else None,
            "waiting": waiting_reasons(session, coop.id, DEFINITION, now),
            "editable": editable,
            "returned": case is not None and case.state == RETURNED,
            "form": form,
            "fields": fields,
            "errors": errors or {},
            "conflict": conflict,
            "prices": prices,
            "prices_note": None if prices.complete else prices_missing(year),
            "prices_error": prices_error,
            "fee": shown_fee(prices, form) if editable else frozen,
            "deadline": calendar.deadline_of(case, session) if case is not None else None,
            "reference": data.get("reference") or payment_reference(year, coop.affiliation_number),
            "documents": documents,
            "commitment": next((d for d in documents if d.kind == COMMITMENT), None),
            "attestations": [d for d in reversed(documents) if d.kind in ATTESTATIONS],
            "papers": [
                (item, PAPERS[item].format(total=frozen.total if frozen else ""))
                for item in CHECK_ITEMS
            ],
            "status_of": lambda item: check_status(data, item),
            "refresh": REFRESH if _preparing(case, documents) else None,
            "max_classes": MAX_CLASSES,
        }
        return render_template("portal/affiliation/page.html", **context), status
