"""The card order's staff forms in the table of ``test_bad_input_forms``
(``CARD_STAFF_FORMS``, merged into ``FORMS``): the delivery address approved or refused,
a card back at the AD recorded, then resent or handed over, the bank followed up, the
order cancelled; with the French messages they show, for the error reader. Posted by an
agent of the AD (``CARD_STAFF``) on the cases :func:`card_staff_context` brings where
the forms act. The shapes of the forms are the transfer's (its task page's and case
page's builders), posted by this agent."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests import factories
from tests.card_helpers import card_at
from tests.security.bad_input import KNOWN_MESSAGES
from tests.security.conftest import staff_client, token_of
from tests.security.form_defects import Context, Form
from tests.security.form_defects_transfer_staff import (
    LONG_COMMENT,
    _case_form,
    _day_defects,
    _required,
    _task_form,
)
from workflows.engine.engine import Engine
from workflows.models import Step, StepStatus

#: Who posts them: an agent of the AD, in a property of its own.
CARD_STAFF = "staff_card"

REASON_MISSING = "Indiquez pourquoi l'adresse est refusée : le mandataire le lira."
REASON_LONG = "Motif trop long (2000 caractères au plus)."
RETURN_MISSING = "Indiquez le jour où la carte est arrivée à l'AD (jj/mm/aaaa)."
RETURN_FUTURE = "Le jour d'arrivée de la carte ne peut pas être dans le futur."
FOLLOW_UP_MISSING = "Dites comment la banque a été relancée : c'est enregistré dans l'historique."
CANCEL_MISSING = "Dites pourquoi la commande est annulée : c'est enregistré dans l'historique."


def _by_card_staff(forms: tuple[Form, ...]) -> tuple[Form, ...]:
    return tuple(replace(form, who=CARD_STAFF) for form in forms)


NO_COMMENT = {"version": "{version}", "comment": ""}
CARD_STAFF_FORMS: dict[str, tuple[Form, ...]] = {
    "cases.card_address_approve": _task_form(
        "/admin/dossiers/{case}/carte/adresse/approuver",
        NO_COMMENT,
        (LONG_COMMENT,),
        prefix="approve-",
        case="requested",
        elsewhere=("shipped", "case"),
    ),
    "cases.card_address_refuse": _task_form(
        "/admin/dossiers/{case}/carte/adresse/refuser",
        {"version": "{version}", "reason": "Livrez-la à l'école."},
        _required("reason", REASON_MISSING, REASON_LONG),
        prefix="refuse-",
        case="requested",
        elsewhere=("shipped", "case"),
    ),
    "cases.card_record_return": _task_form(
        "/admin/dossiers/{case}/carte/retour/enregistrer",
        {**NO_COMMENT, "received_on": "2026-09-07"},
        (*_day_defects("received_on", RETURN_MISSING, RETURN_FUTURE), LONG_COMMENT),
        prefix="card_return-",
        case="shipped",
        elsewhere=("returned", "requested", "case"),
    ),
    "cases.card_resend": _task_form(
        "/admin/dossiers/{case}/carte/revenue/renvoyer",
        NO_COMMENT,
        (LONG_COMMENT,),
        prefix="resend-",
        case="returned",
        elsewhere=("shipped", "case"),
    ),
    "cases.card_hand_over": _task_form(
        "/admin/dossiers/{case}/carte/revenue/remettre",
        NO_COMMENT,
        (LONG_COMMENT,),
        prefix="hand_over-",
        case="returned",
        elsewhere=("shipped", "case"),
    ),
    "cases.card_follow_up": _case_form(
        "/admin/dossiers/{case}/carte/relance",
        {"version": "{version}", "comment": "Appel à la banque."},
        _required("comment", FOLLOW_UP_MISSING),
        prefix="card_follow_up-",
        case="processing",
    ),
    "cases.card_cancel": _case_form(
        "/admin/dossiers/{case}/carte/annuler",
        {"version": "{version}", "comment": "Commandée en double."},
        _required("comment", CANCEL_MISSING),
        prefix="card_cancel-",
        case="processing",
    ),
}
CARD_STAFF_FORMS = {endpoint: _by_card_staff(forms) for endpoint, forms in CARD_STAFF_FORMS.items()}

KNOWN_MESSAGES.extend(
    re.compile(re.escape(message), re.S)
    for message in (
        REASON_MISSING,
        REASON_LONG,
        RETURN_MISSING,
        RETURN_FUTURE,
        FOLLOW_UP_MISSING,
        CANCEL_MISSING,
    )
)


def card_staff_context(
    app: Flask, runtime: Any, ad: Any, world_case_id: int
) -> tuple[FlaskClient, Context]:
    """An agent's session, and the cases the forms act on: an address to approve
    (``requested``), a card shipped (``shipped``), one back at the AD (``returned``),
    one being made (``processing``); the world's invitation case (``case``).

    Set up by an engine that hands nothing to the workers, then what is left to do
    handed to them (the test settles)."""
    quiet = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    agent: Any = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="carte@occe.coop")
    context = {
        "case": world_case_id,
        "requested": card_at(quiet, ad, "requested").id,
        "shipped": card_at(quiet, ad, "shipped").id,
        "returned": card_at(quiet, ad, "returned_to_ad").id,
        "processing": card_at(quiet, ad, "processing").id,
    }
    with runtime.db.read() as session:
        pending = list(
            session.scalars(select(Step.id).where(Step.status == StepStatus.PENDING.value))
        )
    runtime.engine.publish(pending)
    client = staff_client(app, agent.id)
    return client, {**context, "csrf": token_of(client, "/admin/")}
