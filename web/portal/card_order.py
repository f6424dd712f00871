"""« Carte bancaire » (seed 002): the coop's card, ordered by its mandataire.

While the case waits, the page says for what (its prerequisites); then the mandataire
fills the request (:mod:`web.portal.card_form`): the delivery address, the school's
prefilled (« indiquez bien l'adresse de l'école »), the line printed on the card, the
holder's name as Swan will print it (:mod:`workflows.processes.card_order.holder`), and
the box « Je suis responsable de la carte de la coopérative ». A refusal stores nothing
and says why next to each field; taken, the request is kept in the case and ``request``
(the school's address) or ``request_elsewhere`` (another one, for the AD to approve)
fired in one transaction, once whatever the clicks. Afterwards the page follows the
card: the consent link Swan gives, the tracking number, a card back at the AD, how to
find the PIN once activated, a suspended card, a cancelled order. The page runs no
script (the portal's CSP): while the order step works it reloads itself.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, url_for
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from web.auth import mandataire_required
from web.portal.banque_postale_transfer import latest_case, mandataire_actor
from web.portal.card_form import FIELDS, CardForm
from web.portal.checklist import waiting_reasons
from web.runtime import runtime
from web.submissions import Submission, mandataire_owner
from workflows.engine.engine import UnitOfWork
from workflows.engine.errors import ConflictError, StepError, TransitionNotAllowed
from workflows.formatting import french_spacing as fr
from workflows.models import Case, CaseEvent, Coop, Mandataire
from workflows.processes.card_order.definition import (
    ACTIVATED,
    AFTER_ACTIVATION,
    CANCELLED,
    CONSENT_PENDING,
    DEFINITION,
    HAND_OVER,
    ORDERING,
    PROCESS,
    RESEND,
    SHIPPED,
    TO_ORDER,
    WAITING,
)
from workflows.processes.card_order.holder import abbreviated, printed_holder

bp = Blueprint("card_order", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {state: "portal.card_order.page" for state in (TO_ORDER, CONSENT_PENDING, SHIPPED)}

#: Seconds between two reloads while the order step works.
REFRESH = 5

ORDERED = fr(
    "Votre demande est enregistrée : la carte est commandée à la banque, livrée à l'école."
)
TO_APPROVE = fr(
    "Votre demande est enregistrée : votre AD vérifie l'adresse de livraison avant de "
    "commander la carte."
)
NOT_OPEN = fr(
    "La commande de la carte n'est pas encore ouverte pour votre coopérative : rien n'a été "
    "enregistré."
)
ALREADY = fr(
    "La carte est déjà demandée : rien n'a été enregistré de nouveau. La page ci-dessous "
    "dit où elle en est."
)


@bp.get("/mon-espace/carte")
@mandataire_required
def page() -> tuple[str, int]:
    return _page()


@bp.post("/mon-espace/carte")
@mandataire_required
def order() -> Response | tuple[str, int]:
    """The request: refused next to its fields with nothing stored, or kept in the case
    with ``request`` or ``request_elsewhere`` fired, once whatever the clicks."""
    rt = runtime()
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        if coop is None:
            abort(404)
        session.expunge(coop)
    form = CardForm(coop)
    if not form.validate_on_submit():
        return _page(422, form=form)
    taken = form.request_data()

    def work(tx: UnitOfWork) -> tuple[str, str]:
        found = card_case(tx.session, current_user.coop_id)
        if found is None:
            raise TransitionNotAllowed(NOT_OPEN)
        case = tx.lock(found.id)
        if case.state != TO_ORDER:  # before anything is written
            raise TransitionNotAllowed(NOT_OPEN if case.state == WAITING else ALREADY)
        actor = mandataire_actor(tx.session)
        person = tx.session.get(Mandataire, current_user.id)
        assert person is not None
        case.data = {
            **(case.data or {}),
            "request": {
                **taken,
                "holder": printed_holder(person.first_name, person.last_name),
                "requested_by": actor.name,
                "requested_at": tx.now.isoformat(),
            },
        }
        school = taken["school_address"]
        payload = {"school_address": school, "city": taken["address"]["city"]}
        tx.fire(case.id, "request" if school else "request_elsewhere", actor=actor, payload=payload)
        return ("success", ORDERED if school else TO_APPROVE)

    once = Submission(mandataire_owner(current_user.id))
    try:
        return once.run(rt.engine, work, url_for(".page"))
    except ConflictError as exc:
        return _page(409, form=form, conflict=str(exc))


# Reading ----------------------------------------------------------------------------


def card_case(session: Session, coop_id: int) -> Case | None:
    return latest_case(session, coop_id, PROCESS)


@runtime_checkable
class CardReader(Protocol):
    """Swan's adapters as the page reads a card (``card(id).physical_status``)."""

    def card(self, card_id: str) -> Any: ...


def status_now(swan: object, case: Case | None) -> str | None:
    """The physical card's status once the case is activated: nothing syncs a final
    case, so Swan is asked (by the id the order step kept, as the workers'
    ``card_now`` does); what the case kept when Swan cannot say."""
    if case is None:
        return None
    kept = ((case.data or {}).get("card") or {}).get("status")
    card_id = ((case.data or {}).get("order") or {}).get("card_id")
    if case.state != ACTIVATED or not card_id or not isinstance(swan, CardReader):
        return kept
    try:
        status = getattr(swan.card(str(card_id)), "physical_status", None)
    except StepError:  # Swan refuses or does not answer: the page still shows
        return kept
    return status if status in AFTER_ACTIVATION else kept


def _consent_link(card: dict[str, Any]) -> str | None:
    """Swan's consent page, a web address only (the sandbox's is http), never a
    ``javascript:`` one."""
    url = str(card.get("consent_url") or "")
    return url if urlsplit(url).scheme in ("https", "http") else None


def _last_transition(case: Case | None) -> CaseEvent | None:
    """The transition that brought the case to its state (who, why): a card order has
    a handful of events."""
    if case is None:
        return None
    led = [e for e in case.events if e.kind == "transition" and e.to_state == case.state]
    return max(led, key=lambda e: e.id, default=None)


def _said(event: CaseEvent | None, *triggers: str, key: str) -> str | None:
    """What staff wrote with ``triggers`` (a refused address, a cancelled order)."""
    if event is None or event.trigger not in triggers:
        return None
    return str((event.payload or {}).get(key) or event.comment or "").strip() or None


def _page(
    status: int = 200, *, form: CardForm | None = None, conflict: str | None = None
) -> tuple[str, int]:
    rt = runtime()
    now = rt.engine.clock.now()
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        person = session.get(Mandataire, current_user.id)
        if coop is None or person is None:
            abort(404)
        case = card_case(session, coop.id)
        waiting = case is None or case.state == WAITING
        data = (case.data or {}) if case is not None else {}
        card = data.get("card") or {}
        last = _last_transition(case)
        led_by = last.trigger if last is not None else None
        form = form or CardForm(coop, prefill=True)
        working = case is not None and case.state == ORDERING and not case.stuck_reason
        context: dict[str, Any] = {
            "coop": coop,
            "ad": coop.ad,
            "case": case,
            "state_label": DEFINITION.portal_label(case.state) if case is not None else None,
            "waiting": waiting_reasons(session, coop.id, DEFINITION, now) if waiting else [],
            "form": form,
            "form_fields": [form[name] for name in FIELDS],
            "holder": printed_holder(person.first_name, person.last_name),
            "abbreviated": abbreviated(person.first_name, person.last_name),
            "full_name": f"{person.first_name} {person.last_name}",
            "asked": data.get("request") or {},
            "card": card,
            "suspended": status_now(rt.swan, case) == "Suspended",
            "consent_link": _consent_link(card),
            "refused": _said(last, "refuse_address", key="reason"),
            "cancel_reason": _said(last, "cancel", key="comment")
            if case is not None and case.state == CANCELLED
            else None,
            "by_bank": led_by == "cancel_by_swan",
            "from_ad": led_by if led_by in (RESEND, HAND_OVER) else None,
            "refresh": REFRESH if working else None,
            "conflict": conflict,
        }
        return render_template("portal/card_order/page.html", **context), status
