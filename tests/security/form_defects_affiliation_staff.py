"""The affiliation staff's forms in the table of ``test_bad_input_forms``
(``AFFILIATION_STAFF_FORMS``, merged into ``FORMS``): « Valider les pièces » (the payment
received, the signed commitment, the change form, « Renvoyer pour correction »),
« Relancer et accorder un délai », and « Relevé bancaire »; with the French messages
they show, for the error reader. Posted by the AD's staff (``AFFILIATION_STAFF``) on the
cases :func:`affiliation_staff_context` brings where the forms act."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from io import BytesIO
from typing import Any

from hypothesis import strategies as st

from admin.imports import CSV_TYPES
from tests import factories
from tests.helpers import active_account
from tests.security.bad_input import (
    ANY_CHAR,
    BLANK,
    FOREIGN_DIGITS,
    HUGE_NUMBER,
    KNOWN_MESSAGES,
    NO_SUCH_ID,
    ODD_WORD,
    in_digits,
    not_an_integer,
    too_long,
)
from tests.security.form_defects import (
    COMMENT_LONG,
    NOT_FOUND,
    VERSION_DEFECTS,
    Context,
    Defect,
    Form,
    Values,
    one,
    says,
)
from tests.workflows.processes.affiliation.staff_cases import (
    FEE_CENTS,
    NEW_MANDATAIRE,
    awaiting,
    draft_of,
)
from workflows.formatting import euros
from workflows.processes.affiliation.statement_csv import NO_HEADER, parse_statement

#: Who posts them: the AD's staff, in a property of its own (the affiliations they act on).
AFFILIATION_STAFF = "staff_affiliation"

_SHOWN: list[str] = []


def shown(message: str) -> str:
    """``message``, which a page of these forms shows as an error."""
    _SHOWN.append(re.escape(message))
    return message


TASK_DONE = shown("Cette tâche n'est plus à faire sur ce dossier : voici son état actuel.")
AMOUNT_MISSING = shown("Indiquez le montant reçu, par exemple 136,99.")
AMOUNT_UNREADABLE = shown("Indiquez un montant en euros, par exemple 12,50.")
AMOUNT_HUGE = shown("Le montant ne peut pas dépasser 100 000,00 €.")
RECEIVED_MISSING = shown("Indiquez la date de réception (jj/mm/aaaa).")
DATE_INVALID = shown("Date invalide : utilisez le format jj/mm/aaaa.")
RECEIVED_FUTURE = shown("La date de réception ne peut pas être dans le futur.")
RECEIVED_EARLY = shown(
    "La date de réception est antérieure à l'année scolaire 2026-2027 : vérifiez-la."
)
REFERENCE_MISSING = shown("Indiquez la référence du paiement.")
REFERENCE_LONG = shown("Référence trop longue (100 caractères au plus).")
UNTICKED_COMMITMENT = shown("Cochez la case : l'engagement signé est-il bien reçu ?")
UNTICKED_CHANGE = shown("Cochez la case : le changement est-il bien traité ?")
NOTE_LONG = shown("Note trop longue (2000 caractères au plus).")
NO_CHANGE = shown(
    "Aucun changement de mandataire ni de signataires n'a été déclaré : il n'y a pas de "
    "formulaire de changement à traiter."
)
SEND_BACK_EMPTY = shown("Dites au mandataire ce qu'il doit corriger : le commentaire est vide.")
DEADLINE_MISSING = shown("Indiquez la nouvelle date limite (jj/mm/aaaa).")
DEADLINE_PAST = shown("La nouvelle date limite doit être après aujourd'hui.")
DEADLINE_LATE = shown(
    "La nouvelle date limite doit rester dans l'année scolaire 2026-2027 (au plus tard le "
    "31/08/2027)."
)
AD_MISSING = shown("Choisissez l'AD dont c'est le relevé.")
FILE_MISSING = shown("Choisissez le fichier CSV du relevé.")
EMPTY_FILE = shown("Le fichier est vide.")
NO_HEADER_SHOWN = shown(NO_HEADER)
#: The day the tests' clock shows (7 September 2026, Paris).
TODAY = date(2026, 9, 7)


def _reads_as_date(typed: str) -> bool:
    """What the forms take for a day: ASCII, ``2026-09-05`` or ``05/09/2026``."""
    typed = typed.strip()
    for format in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            datetime.strptime(typed, format)
        except ValueError:
            continue
        return typed.isascii()
    return False


def _days(first: date, last: date) -> st.SearchStrategy[str]:
    """Days between ``first`` and ``last``, as the date input or by hand."""
    return st.tuples(st.dates(first, last), st.booleans()).map(
        lambda t: t[0].isoformat() if t[1] else t[0].strftime("%d/%m/%Y")
    )


UNREADABLE_DAY = st.one_of(
    st.text(ANY_CHAR, min_size=1, max_size=12),
    st.from_regex(
        r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|2026-(1[3-9]|00)-01|2026-02-3[01]|"
        r"[0-9]{2}\.[0-9]{2}\.[0-9]{4}",
        fullmatch=True,
    ),
    st.builds(in_digits, st.sampled_from(["2026-09-05", "05/09/2026"]), FOREIGN_DIGITS),
).filter(lambda s: s.strip() and not _reads_as_date(s))


def _day_defects(field: str, missing: str) -> tuple[Defect, ...]:
    return (
        Defect("date vide", one(field, st.just("")), says(missing)),
        Defect("date illisible", one(field, UNREADABLE_DAY), says(DATE_INVALID)),
    )


def _cents_typed(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def _mismatch(values: Values) -> list[str]:
    cents = int(values["amount"].replace(",", ""))
    return [
        f"Le montant reçu ({euros(cents)}) ne correspond pas au montant de l'adhésion "
        f"({euros(FEE_CENTS)})."
    ]


def _not_an_amount(typed: str) -> bool:
    """What ``parse_euros`` refuses as unreadable (neither empty nor merely too big)."""
    text = re.sub(r"[\s\u00a0\u202f]", "", typed.replace("€", ""))
    return bool(text) and re.fullmatch(r"\d{1,7}([,.]\d{1,2})?", text, re.ASCII) is None


PAYMENT_DEFECTS = (
    Defect("montant vide", one("amount", BLANK), says(AMOUNT_MISSING)),
    Defect(
        "montant illisible",
        one(
            "amount",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=20),
                st.sampled_from(["136,999", "1.234,56", "136,99 EUR", "12,5,0", "-136,99"]),
                FOREIGN_DIGITS.map(lambda d: in_digits("136,99", d)),
            ).filter(_not_an_amount),
        ),
        says(AMOUNT_UNREADABLE),
    ),
    Defect(
        "montant nul", one("amount", st.sampled_from(["0", "0,00", "0.0"])), says(AMOUNT_MISSING)
    ),
    Defect(
        "montant démesuré",
        one("amount", st.integers(10_000_001, 99_999_999).map(_cents_typed)),
        says(AMOUNT_HUGE),
    ),
    Defect(
        "montant qui n'est pas celui de l'adhésion",
        one(
            "amount", st.integers(1, 10_000_000).filter(lambda c: c != FEE_CENTS).map(_cents_typed)
        ),
        _mismatch,
    ),
    *_day_defects("received_on", RECEIVED_MISSING),
    Defect(
        "reçu dans le futur",
        one("received_on", _days(date(2026, 9, 8), date(9999, 12, 31))),
        says(RECEIVED_FUTURE),
    ),
    Defect(
        "reçu avant l'année scolaire",
        one("received_on", _days(date(1900, 1, 1), date(2025, 12, 31))),
        says(RECEIVED_EARLY),
    ),
    Defect("référence vide", one("reference", BLANK), says(REFERENCE_MISSING)),
    Defect("référence trop longue", one("reference", too_long(100)), says(REFERENCE_LONG)),
    Defect("commentaire trop long", one("comment", too_long(2000)), says(COMMENT_LONG)),
)
#: A box left unticked: absent, or a value WTForms reads as « no ».
UNTICKED = st.sampled_from([None, "", "false"])
NOTE_DEFECT = Defect("note trop longue", one("note", too_long(2000)), says(NOTE_LONG))
SEND_BACK_DEFECTS = (
    Defect("commentaire vide", one("comment", BLANK), says(SEND_BACK_EMPTY)),
    Defect("commentaire trop long", one("comment", too_long(2000)), says(COMMENT_LONG)),
)
EXTEND_DEFECTS = (
    *_day_defects("deadline", DEADLINE_MISSING),
    Defect(
        "date limite passée",
        one("deadline", _days(date(1900, 1, 1), TODAY)),
        says(DEADLINE_PAST),
    ),
    Defect(
        "date limite après l'année scolaire",
        one("deadline", _days(date(2027, 9, 1), date(9999, 12, 31))),
        says(DEADLINE_LATE),
    ),
    Defect("commentaire trop long", one("comment", too_long(2000)), says(COMMENT_LONG)),
)


def _elsewhere(*keys: str) -> Callable[[Context], st.SearchStrategy[Values]]:
    """The form posted for another case of the context (another process or state)."""
    return lambda c: st.sampled_from([c[k] for k in keys]).map(lambda i: {"@url": i})


def _task_form(
    path: str,
    valid: dict[str, Any],
    defects: tuple[Defect, ...],
    prefix: str,
    case: str,
    *elsewhere: str,
) -> tuple[Form, Form]:
    """A form of a task page (``/admin/dossiers/<case>/adhesion/<path>``): its fields
    wrong, and the case in its URL wrong (none, or one the page is not for)."""
    url = "/admin/dossiers/{%s}/adhesion/" + path
    return (
        Form(
            AFFILIATION_STAFF,
            url % case,
            valid,
            (*defects, *VERSION_DEFECTS),
            prefix=prefix,
            version_of=case,
        ),
        Form(
            AFFILIATION_STAFF,
            url % "value",
            valid,
            (
                NOT_FOUND,
                Defect(
                    "dossier où cette tâche n'est pas à faire",
                    _elsewhere(*elsewhere),
                    says(TASK_DONE),
                    status=200,
                    follow=True,
                ),
            ),
            prefix=prefix,
            version_of=case,
        ),
    )


# « Relevé bancaire » -------------------------------------------------------------------


def _statement() -> tuple[BytesIO, str, str]:
    """A fresh upload for each post (a stream is read once)."""
    content = "Date;Libellé;Débit;Crédit\r\n05/09/2026;VIR ADH-2026-0000000Z;;136,99\r\n"
    return BytesIO(content.encode("cp1252")), "releve.csv", "text/csv"


def _no_header(content: bytes) -> bool:
    return (
        b"\x00" not in content
        and not content.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))
        and parse_statement(content).file_error == NO_HEADER
    )


STATEMENT_DEFECTS = (
    Defect("sans fichier", st.just({"file": None}), says(FILE_MISSING)),
    Defect(
        "AD illisible",
        one(
            "ad_id",
            st.one_of(ODD_WORD, BLANK, FOREIGN_DIGITS.map(lambda d: d[1])).filter(not_an_integer),
        ),
        says(AD_MISSING),
    ),
    Defect("AD inconnue", one("ad_id", NO_SUCH_ID.map(str)), says(AD_MISSING)),
    Defect("AD géante", one("ad_id", HUGE_NUMBER), says(AD_MISSING)),
    Defect("AD d'un autre", lambda c: st.just({"ad_id": str(c["other_ad_id"])}), says(AD_MISSING)),
    Defect(
        "pas un .csv",
        st.text(ANY_CHAR, min_size=1, max_size=20)
        .filter(
            lambda s: (
                not s.lower().endswith(".csv")
                and "".join(s.split()).strip(".")
                and s.isprintable()
                and not {"/", "\\"} & set(s)
            )
        )
        .map(lambda name: {"file": (BytesIO(b"Date;Libelle;Credit\n"), name, "text/csv")}),
        says("Le fichier doit être au format CSV (.csv)"),
    ),
    Defect(
        "type qui n'est pas du CSV",
        st.from_regex(r"(image|application|audio|video|text)/[a-z0-9.+-]{1,20}", fullmatch=True)
        .filter(lambda t: t not in CSV_TYPES)
        .map(lambda t: {"file": (_statement()[0], "releve.csv", t)}),
        lambda v: [f"Ce type de fichier ({v['file'][2]}) n'est pas un CSV."],
    ),
    Defect(
        "fichier vide",
        st.sampled_from([b"", b"\r\n", b"  \n\n"]).map(
            lambda b: {"file": (BytesIO(b), "releve.csv", "text/csv")}
        ),
        says(EMPTY_FILE),
    ),
    Defect(
        "sans ligne d'en-tête",
        st.lists(st.text(ANY_CHAR, max_size=40), min_size=1, max_size=5)
        .map(lambda lines: "\r\n".join(lines).encode())
        .filter(_no_header)
        .map(lambda b: {"file": (BytesIO(b), "releve.csv", "text/csv")}),
        says(NO_HEADER_SHOWN),
    ),
)

PAID = {
    "version": "{version}",
    "amount": "136,99",
    "received_on": "2026-09-05",
    "reference": "VIR 77",
    "comment": "",
}
TICKED = {"version": "{version}", "received": "y", "note": ""}
HANDLED = {"version": "{version}", "handled": "y", "note": ""}

AFFILIATION_STAFF_FORMS: dict[str, tuple[Form, ...]] = {
    "cases.affiliation_payment": _task_form(
        "paiement",
        PAID,
        PAYMENT_DEFECTS,
        "payment-",
        "affiliation_plain",
        "affiliation_draft",
        "case",
    ),
    "cases.affiliation_commitment": _task_form(
        "engagement",
        TICKED,
        (
            Defect("case non cochée", one("received", UNTICKED), says(UNTICKED_COMMITMENT)),
            NOTE_DEFECT,
        ),
        "commitment-",
        "affiliation_plain",
        "affiliation_draft",
        "case",
    ),
    "cases.affiliation_change_form": (
        *_task_form(
            "changement",
            HANDLED,
            (
                Defect("case non cochée", one("handled", UNTICKED), says(UNTICKED_CHANGE)),
                NOTE_DEFECT,
            ),
            "change_form-",
            "affiliation_changed",
            "affiliation_draft",
            "case",
        ),
        # No change was declared: there is no change form to handle.
        Form(
            AFFILIATION_STAFF,
            "/admin/dossiers/{affiliation_plain}/adhesion/changement",
            HANDLED,
            (
                Defect(
                    "aucun changement déclaré",
                    st.just({}),
                    says(NO_CHANGE),
                    status=200,
                    follow=True,
                ),
            ),
            prefix="change_form-",
            version_of="affiliation_plain",
        ),
    ),
    "cases.affiliation_send_back": _task_form(
        "renvoyer",
        {"version": "{version}", "comment": "Il manque la classe de CM2."},
        SEND_BACK_DEFECTS,
        "send_back-",
        "affiliation_plain",
        "affiliation_draft",
        "case",
    ),
    "cases.affiliation_extend_post": _task_form(
        "delai/accorder",
        {"version": "{version}", "deadline": "2026-10-31", "comment": ""},
        EXTEND_DEFECTS,
        "extend-",
        "affiliation_draft",
        "affiliation_plain",
        "case",
    ),
    "statement.index": (
        Form(
            AFFILIATION_STAFF,
            "/admin/releve-bancaire/",
            {"ad_id": "{ad_id}", "file": _statement},
            STATEMENT_DEFECTS,
        ),
    ),
}

KNOWN_MESSAGES.extend(
    re.compile(pattern, re.S)
    for pattern in (
        *_SHOWN,
        r"Le montant reçu \([\d\s\u00a0\u202f]+,\d\d\s?€\) ne correspond pas au montant de "
        r"l'adhésion \([\d\s\u00a0\u202f]+,\d\d\s?€\)\.",
        r"Ce type de fichier \([^)]*\) n'est pas un CSV\.",
    )
)


def affiliation_staff_context(runtime: Any, ad: Any, world_case_id: int, csrf: str) -> Context:
    """The cases the forms act on, for a staff member of ``ad``: an affiliation awaiting
    its items without a change (``affiliation_plain``), one with a change of mandataire
    (``affiliation_changed``), one still to fill in (``affiliation_draft``, where a
    deadline may be granted); the world's invitation case (``case``); another AD."""
    other = factories.ADFactory(code="AD13", academic_domains=["ac-aix-marseille.fr"])
    return {
        "csrf": csrf,
        "case": world_case_id,
        "affiliation_plain": awaiting(runtime.engine, ad).id,
        "affiliation_changed": awaiting(runtime.engine, ad, NEW_MANDATAIRE).id,
        "affiliation_draft": draft_of(runtime.engine, active_account(runtime.engine, ad).coop_id),
        "ad_id": ad.id,
        "other_ad_id": other.id,
    }
