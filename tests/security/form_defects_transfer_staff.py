"""The Banque Postale transfer's and the emergency advance's staff forms in the table of
``test_bad_input_forms`` (``TRANSFER_STAFF_FORMS``, merged into ``FORMS``): « Lettres à
envoyer » (the ticked letters marked sent), a letter marked sent from its case, the
funds received, La Banque Postale followed up, the amount's difference explained; the
advance granted or refused, its transfer, its repayment; with the French messages they
show, for the error reader. Posted by the AD's treasurer (``TRANSFER_STAFF``: they may do
all of it) on the cases :func:`transfer_staff_context` brings where the forms act."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from sqlalchemy import select

from tests import factories
from tests.admin.test_advance_forms import under_review
from tests.admin.test_transfer_forms import letter_ready
from tests.security.bad_input import (
    ANY_CHAR,
    BLANK,
    HUGE_NUMBER,
    KNOWN_MESSAGES,
    NO_SUCH_ID,
    ODD_WORD,
    not_an_integer,
    too_long,
)
from tests.security.conftest import staff_client, token_of
from tests.security.form_defects import (
    COMMENT_LONG,
    NOT_FOUND,
    VERSION_DEFECTS,
    Context,
    Defect,
    Form,
    one,
    says,
)
from tests.security.form_defects_affiliation_staff import DATE_INVALID, UNREADABLE_DAY, _days
from tests.security.form_defects_bank import _posted_elsewhere
from tests.transfer_helpers import advance_at, fire
from workflows.engine.engine import Actor, Engine
from workflows.models import Step, StepStatus
from workflows.processes.banque_postale_transfer.attestation import funds_payload

#: Who posts them: the AD's treasurer, in a property of its own.
TRANSFER_STAFF = "staff_transfer"

_SHOWN: list[str] = []


def shown(message: str) -> str:
    """``message``, which a page of these forms shows as an error."""
    _SHOWN.append(re.escape(message))
    return message


TASK_DONE = shown("Cette tâche n'est plus à faire sur ce dossier : voici son état actuel.")
#: The day the tests' clock shows (7 September 2026, Paris).
TOMORROW = date(2026, 9, 8)
FUTURE = _days(TOMORROW, date(9999, 12, 31))


def _day_defects(field: str, missing: str, future: str) -> tuple[Defect, ...]:
    return (
        Defect("date vide", one(field, st.just("")), says(shown(missing))),
        Defect("date illisible", one(field, UNREADABLE_DAY), says(DATE_INVALID)),
        Defect("date dans le futur", one(field, FUTURE), says(shown(future))),
    )


LONG_COMMENT = Defect("commentaire trop long", one("comment", too_long(2000)), says(COMMENT_LONG))


def _required(field: str, missing: str, too_long_says: str = COMMENT_LONG) -> tuple[Defect, ...]:
    return (
        Defect(f"{field} vide", one(field, BLANK), says(shown(missing))),
        Defect(f"{field} trop long", one(field, too_long(2000)), says(too_long_says)),
    )


# The transfer ---------------------------------------------------------------------------

AMOUNT_MISSING = shown("Indiquez le montant en euros, par exemple 1 800,00.")


def _unreadable_amount(typed: str) -> bool:
    """What ``parse_amount`` refuses as unreadable (not empty, not negative, not merely
    too big, not too long for the field)."""
    text = re.sub(r"[\s\u00a0\u202f\u2009]", "", typed.replace("€", ""))
    return (
        bool(text)
        and len(typed) <= 30
        and not typed.strip().startswith(("-", "−"))
        and re.fullmatch(r"\d{1,7}([,.]\d{1,2})?", text, re.ASCII) is None
    )


FUNDS_DEFECTS = (
    Defect("montant vide", one("amount", BLANK), says(AMOUNT_MISSING)),
    Defect(
        "montant illisible",
        one(
            "amount",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=20),
                st.sampled_from(["1 800,999", "1.800,00", "1800 EUR", "18,0,0", "mille"]),
            ).filter(_unreadable_amount),
        ),
        says(shown("Indiquez un montant en euros, par exemple 12,50.")),
    ),
    Defect(
        "montant négatif",
        one("amount", st.sampled_from(["-1800", "- 1 800,00", "−12,50"])),
        says(shown("Le montant ne peut pas être négatif.")),
    ),
    Defect(
        "montant nul",
        one("amount", st.sampled_from(["0", "0,00", "0.0", "0 €"])),
        says(shown("Le montant doit être supérieur à 0,00 €.")),
    ),
    Defect(
        "montant démesuré",
        one("amount", st.integers(1_000_001, 9_999_999).map(lambda e: f"{e},00")),
        says(shown("Le montant ne peut pas dépasser 1 000 000,00 €.")),
    ),
    Defect("montant trop long", one("amount", st.just("1" * 31)), says(AMOUNT_MISSING)),
    *_day_defects(
        "received_on",
        "Indiquez la date de réception des fonds (jj/mm/aaaa).",
        "La date de réception ne peut pas être dans le futur.",
    ),
    LONG_COMMENT,
)

#: A letter ticked: another AD's, or no case at all (by its number).
NOT_MARKED = r"Non marquée : Dossier n° \d+ :(?: introuvable\.)?"
ALREADY_SENT = shown(
    "Action « Lettre envoyée » impossible : le dossier est à l'état « Lettre envoyée, solde "
    "attendu de La Banque Postale »."
)
MARK_DEFECTS = (
    Defect(
        "aucune lettre cochée",
        st.just({"case_id": []}),
        says(shown("Cochez au moins une lettre envoyée.")),
    ),
    Defect(
        "lettre illisible",
        one(
            "case_id",
            st.one_of(ODD_WORD.filter(not_an_integer), HUGE_NUMBER).map(lambda v: [v]),
        ),
        says(shown("Sélection illisible : rechargez la page.")),
    ),
    Defect(
        "lettre d'aucun dossier",
        one("case_id", NO_SUCH_ID.map(lambda i: [str(i)])),
        lambda v: [f"Non marquée : Dossier n° {v['case_id'][0]} : introuvable."],
        status=200,
        follow=True,
    ),
    Defect(
        "lettre d'une autre AD",
        lambda c: st.just({"case_id": [str(c["other_letter"])]}),
        lambda v: [f"Non marquée : Dossier n° {v['case_id'][0]} : introuvable."],
        status=200,
        follow=True,
    ),
    Defect(
        "lettre déjà envoyée",
        lambda c: st.just({"case_id": [str(c["sent"])]}),
        lambda v: [f"Non marquée : Dossier n° {v['case_id'][0]} : {ALREADY_SENT}"],
        status=200,
        follow=True,
    ),
    *_day_defects(
        "sent_on",
        "Indiquez la date d'envoi des lettres (jj/mm/aaaa).",
        "La date d'envoi ne peut pas être dans le futur.",
    ),
    LONG_COMMENT,
)


def _task_form(
    url: str,
    valid: dict[str, Any],
    defects: tuple[Defect, ...],
    *,
    prefix: str,
    case: str,
    elsewhere: tuple[str, ...],
) -> tuple[Form, Form]:
    """A decision of a task page (``url`` names the case ``{case}``): its fields wrong,
    and the case in its URL wrong (none, or one the task is not for)."""
    at, anywhere = url.replace("{case}", f"{{{case}}}"), url.replace("{case}", "{value}")
    return (
        Form(
            TRANSFER_STAFF, at, valid, (*defects, *VERSION_DEFECTS), prefix=prefix, version_of=case
        ),
        Form(
            TRANSFER_STAFF,
            anywhere,
            valid,
            (
                NOT_FOUND,
                Defect(
                    "dossier où cette tâche n'est pas à faire",
                    _posted_elsewhere(*elsewhere),
                    says(TASK_DONE),
                    status=200,
                    follow=True,
                ),
            ),
            prefix=prefix,
            version_of=case,
        ),
    )


def _case_form(
    url: str, valid: dict[str, Any], defects: tuple[Defect, ...], *, prefix: str, case: str
) -> tuple[Form, Form]:
    """A form of the case page (``url`` names the case ``{case}``): its fields wrong, and
    the case in its URL wrong (none, or another process's: as if it did not exist)."""
    at, anywhere = url.replace("{case}", f"{{{case}}}"), url.replace("{case}", "{value}")
    return (
        Form(
            TRANSFER_STAFF, at, valid, (*defects, *VERSION_DEFECTS), prefix=prefix, version_of=case
        ),
        Form(
            TRANSFER_STAFF,
            anywhere,
            valid,
            (
                NOT_FOUND,
                Defect(
                    "dossier d'un autre processus",
                    _posted_elsewhere("case"),
                    says("Cette page n'existe pas."),
                    status=404,
                ),
            ),
            prefix=prefix,
            version_of=case,
        ),
    )


# The advance ----------------------------------------------------------------------------

REFERENCE_LONG = shown("Référence trop longue (140 caractères au plus).")


def _reference_defects(missing: str) -> tuple[Defect, ...]:
    return (
        Defect("référence vide", one("reference", BLANK), says(shown(missing))),
        Defect("référence trop longue", one("reference", too_long(140)), says(REFERENCE_LONG)),
    )


TODAY = {"version": "{version}", "comment": ""}
TRANSFER_STAFF_FORMS: dict[str, tuple[Form, ...]] = {
    "transfer_letters.mark": (
        Form(
            TRANSFER_STAFF,
            "/admin/lettres-banque-postale/marquer-envoyees",
            {"case_id": ["{letter}"], "sent_on": "2026-09-07", "comment": ""},
            MARK_DEFECTS,
        ),
    ),
    "cases.transfer_letter_sent": _task_form(
        "/admin/dossiers/{case}/banque-postale/lettre/envoyee",
        {**TODAY, "sent_on": "2026-09-07"},
        (
            *_day_defects(
                "sent_on",
                "Indiquez la date d'envoi de la lettre (jj/mm/aaaa).",
                "La date d'envoi ne peut pas être dans le futur.",
            ),
            LONG_COMMENT,
        ),
        prefix="sent-",
        case="letter",
        elsewhere=("sent", "review", "case"),
    ),
    "cases.transfer_funds_post": _task_form(
        "/admin/dossiers/{case}/banque-postale/fonds/enregistrer",
        {**TODAY, "amount": "1 800,00", "received_on": "2026-09-07"},
        FUNDS_DEFECTS,
        prefix="funds-",
        case="sent",
        elsewhere=("mismatch", "review", "case"),
    ),
    "cases.transfer_follow_up": _case_form(
        "/admin/dossiers/{case}/banque-postale/relance",
        {"version": "{version}", "comment": "Appel au centre financier."},
        _required(
            "comment",
            "Dites comment La Banque Postale a été relancée : c'est enregistré dans l'historique.",
        ),
        prefix="follow_up-",
        case="sent",
    ),
    "cases.transfer_accept_amount": _case_form(
        "/admin/dossiers/{case}/banque-postale/ecart",
        {"version": "{version}", "comment": "Frais de clôture retenus."},
        _required(
            "comment",
            "Expliquez l'écart entre le montant reçu et le solde déclaré : c'est enregistré "
            "dans l'historique.",
        ),
        prefix="check_amount-",
        case="mismatch",
    ),
    "cases.advance_approve": _task_form(
        "/admin/dossiers/{case}/avance/examen/accorder",
        {"version": "{version}", "message": ""},
        (
            Defect(
                "message trop long",
                one("message", too_long(2000)),
                says(shown("Message trop long (2000 caractères au plus).")),
            ),
        ),
        prefix="approve-",
        case="review",
        elsewhere=("signed", "case"),
    ),
    "cases.advance_reject": _task_form(
        "/admin/dossiers/{case}/avance/examen/refuser",
        {"version": "{version}", "reason": "Ce séjour n'est pas encore autorisé."},
        _required(
            "reason",
            "Indiquez le motif du refus : le mandataire le lira.",
            shown("Motif trop long (2000 caractères au plus)."),
        ),
        prefix="reject-",
        case="review",
        elsewhere=("signed", "case"),
    ),
    "cases.advance_disburse": _task_form(
        "/admin/dossiers/{case}/avance/virement/enregistrer",
        {**TODAY, "disbursed_on": "2026-09-07", "reference": "AV-2026-0042"},
        (
            *_day_defects(
                "disbursed_on",
                "Indiquez la date du virement (jj/mm/aaaa).",
                "La date du virement ne peut pas être dans le futur.",
            ),
            *_reference_defects("Indiquez la référence du virement (celle du relevé)."),
            LONG_COMMENT,
        ),
        prefix="disburse-",
        case="signed",
        elsewhere=("review", "disbursed", "case"),
    ),
    "cases.advance_repayment_post": _task_form(
        "/admin/dossiers/{case}/avance/remboursement/enregistrer",
        {**TODAY, "repaid_on": "2026-09-07", "reference": "REMB-1"},
        (
            *_day_defects(
                "repaid_on",
                "Indiquez la date du remboursement (jj/mm/aaaa).",
                "La date du remboursement ne peut pas être dans le futur.",
            ),
            *_reference_defects(
                "Indiquez la référence du remboursement (celle du relevé de l'AD)."
            ),
            LONG_COMMENT,
        ),
        prefix="repayment-",
        case="disbursed",
        elsewhere=("signed", "case"),
    ),
}

KNOWN_MESSAGES.extend(re.compile(pattern, re.S) for pattern in (*_SHOWN, NOT_MARKED))


def transfer_staff_context(
    app: Flask, runtime: Any, ad: Any, world_case_id: int
) -> tuple[FlaskClient, Context]:
    """The AD's treasurer's session, and the cases the forms act on: a letter to post
    (``letter``), one posted (``sent``), funds beyond the tolerance (``mismatch``), an
    advance to review (``review``), one signed (``signed``), one paid (``disbursed``);
    another AD's letter; the world's invitation case (``case``).

    Set up by an engine that hands nothing to the workers (their steps would move the
    cases on meanwhile), then what is left to do handed to them (the test settles)."""
    quiet = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    treasurer = factories.StaffFactory(
        ad=ad, full_name="Denis Olivier", email="tresorier@occe.coop", officer_role="treasurer"
    )
    other = factories.ADFactory(code="AD35", academic_domains=["ac-rennes.fr"])
    letter, sent, mismatch = (letter_ready(quiet, ad) for _ in range(3))
    for case in (sent, mismatch):
        fire(quiet, case.id, "mark_sent", actor=Actor.staff(treasurer))
    payload = funds_payload(
        mismatch, ad, received_cents=150000, received_on=date(2026, 9, 7), source="staff"
    )
    fire(quiet, mismatch.id, "funds_received", actor=Actor.staff(treasurer), **payload)
    context = {
        "case": world_case_id,
        "letter": letter.id,
        "sent": sent.id,
        "mismatch": mismatch.id,
        "other_letter": letter_ready(quiet, other).id,
        "review": under_review(quiet, ad).id,
        "signed": advance_at(quiet, ad, "signed").id,
        "disbursed": advance_at(quiet, ad, "disbursed").id,
    }
    with runtime.db.read() as session:
        pending = list(
            session.scalars(select(Step.id).where(Step.status == StepStatus.PENDING.value))
        )
    runtime.engine.publish(pending)
    client = staff_client(app, treasurer.id)
    return client, {**context, "csrf": token_of(client, "/admin/")}
