"""The portal's forms of the Banque Postale transfer and the emergency advance in the
table of ``test_bad_input_forms`` (``TRANSFER_PORTAL_FORMS``, merged into ``FORMS``):
the attestation (« Solde Banque Postale »), the advance's request and its signature
(« Avance d'urgence »); with the French messages they show, for the error reader. Each
is posted by a mandataire whose coop is where it acts (:func:`transfer_portal_context`):
one awaiting the attestation, one that may ask for an advance, one with a contract to
sign."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, timedelta
from io import BytesIO
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from sqlalchemy import select

from tests.security.bad_input import ANY_CHAR, BLANK, KNOWN_MESSAGES, ODD_WORD, norm, too_long
from tests.security.conftest import token_of
from tests.security.form_defects import DETAILS_REFUSED, Context, Defect, Form, Values, one, says
from tests.security.form_defects_bank import (
    FOREIGN_TOKEN,
    MEGABYTE,
    NOT_A_RIB,
    RIB_LIMIT,
    SITE_LIMIT,
    Upload,
    _nul_in,
    _reads_as_date,
)
from tests.security.form_defects_transfer_staff import _unreadable_amount
from tests.transfer_helpers import OLD_ACCOUNT, SUPPLIER_IBAN, advance_at, banking_done, eligible
from tests.web.conftest import log_in_mandataire
from tests.workflows.processes.test_iban_rib_checks import wrong_rib_key
from web.portal import advance_form
from web.portal.attestation_form import BALANCE_REQUIRED, unticked
from workflows.engine.engine import Engine
from workflows.formatting import euros
from workflows.models import Document, Mandataire, Step, StepStatus
from workflows.processes.banque_postale_transfer.attestation import (
    NOT_THE_BANK,
    OLD_ACCOUNT_REQUIRED,
    parse_old_account,
)
from workflows.processes.banque_postale_transfer.definition import STATEMENTS
from workflows.processes.iban import rib_checks

#: Who posts them: three mandataires, each where its form acts.
ATTESTING, ASKING, SIGNING = "attesting_mandataire", "asking_mandataire", "signing_mandataire"

_SHOWN: list[str] = []


def shown(message: str) -> str:
    """``message``, which a page of these forms shows as an error (its spaces as the
    error reader reads them: « 1 800,00 € » holds a narrow one)."""
    _SHOWN.append(re.escape(norm(message)))
    return message


#: What the IBAN checks may say of a typed IBAN (the old account's, the supplier's).
for _said in (
    rib_checks.IBAN_BAD_CHECK_DIGITS,
    rib_checks.IBAN_BAD_LENGTH,
    rib_checks.IBAN_BAD_COUNTRY,
    rib_checks.IBAN_BAD_FORMAT,
    rib_checks.IBAN_INVALID,
):
    shown(_said)


def _refused(*messages: str) -> Callable[[Values], list[str]]:
    return says(DETAILS_REFUSED, *messages)


#: The day the tests' clock shows (7 September 2026, Paris).
TODAY, DAY = date(2026, 9, 7), timedelta(days=1)
OTHER_BANKS = st.sampled_from(
    ["FR7630006000011234567890189", SUPPLIER_IBAN, "DE89370400440532013000"]
)
#: Any text typed where an IBAN goes, its French refusal worked out by the checks.
IBAN_TYPED = st.one_of(
    st.text(ANY_CHAR, min_size=1, max_size=40),
    ODD_WORD.map("FR51 2004 1010 {} 6A02 084".format),
    st.from_regex(r"FR[0-9]{2}20041[0-9A-Z]{18}", fullmatch=True),
).filter(lambda s: s.strip() and len(s) <= 60)


# Named, not lambdas: hypothesis describes a lambda by recompiling it, and fails to on
# one that names a module (« rib_checks.parse_iban »).
def _not_an_old_account(typed: str) -> bool:
    return parse_old_account(typed)[1] is not None


def _not_an_iban(typed: str) -> bool:
    return rib_checks.parse_iban(typed)[0] is None


def _not_her_name(typed: str) -> bool:
    """Not Éloïse Martin's name, however typed (what the signature takes)."""
    words = advance_form.words_of(typed)
    return bool(typed.strip()) and words not in (["eloise", "martin"], ["martin", "eloise"])


def _old_account_says(values: Values) -> list[str]:
    _, error = parse_old_account(values["old_account"])
    assert error is not None, values  # a valid old account: not a defect
    return [DETAILS_REFUSED, error]


def _supplier_iban_says(values: Values) -> list[str]:
    iban, error = rib_checks.parse_iban(values["supplier_iban"])
    assert iban is None and error is not None, values
    return [DETAILS_REFUSED, error]


def _amount_defects(field: str, missing: str, too_long_says: str) -> tuple[Defect, ...]:
    """An amount of money blank, unreadable, negative, past 1 000 000,00 €, too long."""
    return (
        Defect("montant vide", one(field, BLANK), _refused(shown(missing))),
        Defect(
            "montant illisible",
            one(
                field,
                st.one_of(
                    st.text(ANY_CHAR, min_size=1, max_size=20),
                    st.sampled_from(["1 800,999", "1.800,00", "1800 EUR", "18,0,0", "mille"]),
                ).filter(_unreadable_amount),
            ),
            _refused(shown("Indiquez un montant en euros, par exemple 12,50.")),
        ),
        Defect(
            "montant négatif",
            one(field, st.sampled_from(["-1800", "- 1 800,00", "−12,50", "-0"])),
            _refused(shown("Le montant ne peut pas être négatif.")),
        ),
        Defect(
            "montant démesuré",
            one(field, st.integers(1_000_001, 9_999_999).map(lambda e: f"{e:,}".replace(",", " "))),
            _refused(shown("Le montant ne peut pas dépasser 1 000 000,00 €.")),
        ),
        Defect("montant trop long", one(field, st.just("1" * 31)), _refused(shown(too_long_says))),
    )


# « Solde Banque Postale »: the attestation --------------------------------------------

ATTESTATION = {
    **dict.fromkeys(STATEMENTS, "y"),
    "old_account": "fr51 2004 1010 0501 2345 6a02 084",
    "balance": "1 800,00",
}
ATTESTATION_DEFECTS = (
    *(
        Defect(
            f"déclaration « {name} » non cochée",
            one(name, st.sampled_from([None, "", "false"])),
            _refused(shown(unticked(statement))),
        )
        for name, statement in STATEMENTS.items()
    ),
    Defect("ancien compte vide", one("old_account", BLANK), _refused(shown(OLD_ACCOUNT_REQUIRED))),
    Defect(
        "ancien compte d'une autre banque",
        one("old_account", OTHER_BANKS),
        _refused(shown(NOT_THE_BANK)),
    ),
    Defect(
        "ancien compte à la mauvaise clé RIB",
        one("old_account", st.just(wrong_rib_key(OLD_ACCOUNT))),
        _refused(shown(rib_checks.IBAN_BAD_RIB_KEY)),
    ),
    Defect(
        "ancien compte illisible",
        one("old_account", IBAN_TYPED.filter(_not_an_old_account)),
        _old_account_says,
    ),
    Defect(
        "ancien compte trop long",
        one("old_account", too_long(60)),
        _refused(shown("IBAN trop long : 34 caractères au plus.")),
    ),
    *_amount_defects(
        "balance",
        BALANCE_REQUIRED,
        "Montant trop long : indiquez-le en euros, par exemple 1 800,00.",
    ),
    FOREIGN_TOKEN,
    _nul_in("old_account", "balance", "submission"),
)


# « Avance d'urgence »: the request ---------------------------------------------------

PDF = b"%PDF-1.7\n" + b"3" * 300


def _quote(content: bytes, name: str = "devis.pdf", kind: str = "application/pdf") -> Values:
    return {"quote": (Upload(content), name, kind)}


def _fresh_quote() -> tuple[BytesIO, str, str]:
    """A fresh upload of a PDF quote for each post (a stream is read once)."""
    return BytesIO(PDF), "devis.pdf", "application/pdf"


def _too_heavy_says(values: Values) -> list[str]:
    size = f"{values['quote'][0].size / MEGABYTE:.1f}".replace(".", ",")
    return [DETAILS_REFUSED, f"Le fichier est trop lourd ({size} Mo) : 5 Mo au plus."]


def _text_defects(field: str, missing: str, limit: int, too_long_says: str) -> tuple[Defect, ...]:
    return (
        Defect(f"{field} vide", one(field, BLANK), _refused(shown(missing))),
        Defect(f"{field} trop long", one(field, too_long(limit)), _refused(shown(too_long_says))),
    )


def _iso(days: st.SearchStrategy[date]) -> st.SearchStrategy[str]:
    """A day as a date picker sends it (``2027-03-15``) or as typed (``15/03/2027``)."""
    return st.tuples(days, st.booleans()).map(
        lambda t: t[0].isoformat() if t[1] else t[0].strftime("%d/%m/%Y")
    )


REQUEST = {
    "project": "Classe de découverte à Auron",
    "project_on": "2027-03-15",
    "pays_for": "Acompte de l'hébergement",
    "supplier": "PEP 06 Séjours",
    "supplier_iban": "FR76 1010 7001 0112 3456 7890 129",
    "amount": "800,00",
    "quote": _fresh_quote,
}
REQUEST_DEFECTS = (
    *_text_defects(
        "project",
        advance_form.PROJECT_REQUIRED,
        200,
        "Nom du projet trop long (200 caractères au plus).",
    ),
    Defect("date vide", one("project_on", BLANK), _refused(shown(advance_form.DATE_REQUIRED))),
    Defect(
        "date illisible",
        one(
            "project_on",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=12),
                st.sampled_from(
                    ["2027-02-30", "31/04/2027", "15.03.2027", "le 3 mai", "٢٠٢٧-٠٣-١٥"]
                ),
            ).filter(lambda s: s.strip() and not _reads_as_date(s)),
        ),
        _refused(shown("Date invalide : indiquez-la sous la forme jj/mm/aaaa.")),
    ),
    Defect(
        "date passée",
        one("project_on", _iso(st.dates(date(1900, 1, 1), date(2026, 9, 6)))),
        _refused(shown(advance_form.DATE_PAST)),
    ),
    Defect(
        "date à plus de deux ans",
        one("project_on", _iso(st.dates(TODAY + advance_form.AHEAD + DAY, date(9999, 12, 31)))),
        _refused(shown(advance_form.DATE_TOO_FAR)),
    ),
    *_text_defects(
        "pays_for",
        advance_form.PAYS_FOR_REQUIRED,
        300,
        "Désignation trop longue (300 caractères au plus).",
    ),
    *_text_defects(
        "supplier",
        advance_form.SUPPLIER_REQUIRED,
        140,
        "Nom du prestataire trop long (140 caractères au plus).",
    ),
    Defect("IBAN vide", one("supplier_iban", BLANK), _refused(shown(rib_checks.IBAN_REQUIRED))),
    Defect(
        "IBAN à la mauvaise clé RIB",
        one("supplier_iban", st.just(wrong_rib_key(SUPPLIER_IBAN))),
        _refused(shown(rib_checks.IBAN_BAD_RIB_KEY)),
    ),
    Defect(
        "IBAN illisible",
        one(
            "supplier_iban",
            IBAN_TYPED.filter(_not_an_iban),
        ),
        _supplier_iban_says,
    ),
    Defect(
        "IBAN trop long",
        one("supplier_iban", too_long(60)),
        _refused(shown("IBAN trop long : 34 caractères au plus.")),
    ),
    *_amount_defects(
        "amount",
        advance_form.AMOUNT_REQUIRED,
        "Montant trop long : indiquez-le en euros, par exemple 800,00.",
    ),
    Defect(
        "montant nul",
        one("amount", st.sampled_from(["0", "0,00", "0.0", "0 €"])),
        _refused(shown("Le montant doit être supérieur à 0,00 €.")),
    ),
    Defect(
        "montant au-delà du solde déclaré",
        one("amount", st.integers(180001, 100_000_000).map(euros)),
        _refused(shown(advance_form.above_balance(180000))),
    ),
    Defect(
        "sans devis",
        st.one_of(st.just({"quote": None}), st.builds(lambda: _quote(b"", "", "text/plain"))),
        _refused(shown(advance_form.QUOTE_REQUIRED)),
    ),
    Defect("devis vide", st.builds(lambda: _quote(b"")), _refused("Le fichier envoyé est vide.")),
    Defect(
        "devis qui n'est ni un PDF ni une image",
        st.builds(
            _quote,
            NOT_A_RIB,
            st.sampled_from(["devis.pdf", "FACTURE.PNG", "devis.jpg", "devis.docx"]),
            st.sampled_from(["application/pdf", "image/png", "image/jpeg", "application/msword"]),
        ),
        _refused(shown(advance_form.QUOTE_NOT_ACCEPTED)),
    ),
    Defect(
        "devis de plus de 5 Mo",
        st.integers(RIB_LIMIT + 1, SITE_LIMIT - 64 * 1024).map(
            lambda n: _quote(b"%PDF-" + bytes(n - 5))
        ),
        _too_heavy_says,
    ),
    Defect(
        "devis au-delà de ce que le site lit",
        st.integers(SITE_LIMIT + 1, SITE_LIMIT + MEGABYTE // 2).map(
            lambda n: _quote(b"%PDF-" + bytes(n - 5))
        ),
        _refused(shown(advance_form.QUOTE_TOO_LARGE)),
        status=413,
    ),
    FOREIGN_TOKEN,
    _nul_in("project", "project_on", "pays_for", "supplier", "supplier_iban", "amount"),
)


# « Avance d'urgence »: the signature -------------------------------------------------

SIGNATURE = {"full_name": "Éloïse Martin", "consent": "y"}
MISMATCH = shown(advance_form.name_mismatch("Éloïse Martin"))
SIGNATURE_DEFECTS = (
    *_text_defects(
        "full_name",
        advance_form.SIGNATURE_NAME_REQUIRED,
        200,
        "Nom trop long (200 caractères au plus).",
    ),
    Defect(
        "nom qui n'est pas le sien",
        one(
            "full_name",
            st.one_of(
                ODD_WORD,
                st.sampled_from(
                    ["Éloïse", "Martin", "Éloïse Dupont", "Eloise Martine", "É. Martin"]
                ),
            ).filter(_not_her_name),
        ),
        _refused(MISMATCH),
    ),
    Defect(
        "engagement non coché",
        one("consent", st.sampled_from([None, "", "false"])),
        _refused(shown(advance_form.CONSENT_REQUIRED)),
    ),
    FOREIGN_TOKEN,
    _nul_in("full_name", "submission"),
)

TRANSFER_PORTAL_FORMS: dict[str, tuple[Form, ...]] = {
    "portal.banque_postale_transfer.attest": (
        Form(ATTESTING, "/mon-espace/solde-banque-postale", ATTESTATION, ATTESTATION_DEFECTS),
    ),
    "portal.emergency_advance.ask": (Form(ASKING, "/mon-espace/avance", REQUEST, REQUEST_DEFECTS),),
    "portal.emergency_advance.sign": (
        Form(SIGNING, "/mon-espace/avance/signer", SIGNATURE, SIGNATURE_DEFECTS),
    ),
}


def transfer_portal_context(
    app: Flask, runtime: Any, ad: Any, foreign_submission: str
) -> dict[str, tuple[FlaskClient, Context]]:
    """Each mandataire's session and context: one whose transfer awaits the attestation,
    one whose coop may ask for an advance (1 800,00 € declared), one whose advance's
    contract is there to sign.

    Set up by an engine that hands nothing to the workers (their steps would move the
    cases on meanwhile), then what is left to do handed to them (the test settles)."""
    quiet = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    attesting = banking_done(quiet, ad)
    asking = eligible(quiet, ad)
    signing = eligible(quiet, ad)
    case = advance_at(quiet, ad, "awaiting_signature", signing)
    with quiet.transaction() as tx:
        contract = b"%PDF-1.7\n" + b"4" * 300
        tx.session.add(
            Document(
                idempotency_key=f"bad-input:advance_contract:{case.id}",
                coop_id=case.coop_id,
                case_id=case.id,
                kind="advance_contract",
                title="Contrat d'engagement de remboursement de l'avance",
                filename="contrat.pdf",
                content=contract,
                sha256=hashlib.sha256(contract).hexdigest(),
                size=len(contract),
            )
        )
    with runtime.db.read() as session:
        pending = list(
            session.scalars(select(Step.id).where(Step.status == StepStatus.PENDING.value))
        )
    runtime.engine.publish(pending)
    found = {}
    for who, person, page in (
        (ATTESTING, attesting, "/mon-espace/solde-banque-postale"),
        (ASKING, asking, "/mon-espace/avance"),
        (SIGNING, signing, "/mon-espace/avance"),
    ):
        with runtime.db.write() as session:
            session.get(Mandataire, person.id).password_hash = "argon2-hash-of-the-tests"
        client = app.test_client()
        log_in_mandataire(app, client, person.id)
        found[who] = (
            client,
            {"csrf": token_of(client, page), "foreign_submission": foreign_submission},
        )
    return found


#: Besides: the field of a refusal said in the page's summary is linked, not labelled.
KNOWN_MESSAGES.extend(re.compile(pattern, re.S) for pattern in _SHOWN)
