"""The bank's forms in the table of ``test_bad_input_forms`` (``BANK_FORMS``, merged into
``FORMS``): the back-office's task pages of the kyc and iban processes (« Enregistrer le
résultat de la vérification d'identité », « Vérifier le RIB déposé », « Traiter le
signalement »), and the portal's « Compte bancaire » (the RIB, « Le compte affiché n'est
pas le nôtre ») and « Recommencer la vérification »; with the French messages they show,
for the error reader."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from io import BytesIO
from typing import Any

from hypothesis import strategies as st

from tests.security.bad_input import (
    ANY_CHAR,
    BLANK,
    FOREIGN_DIGITS,
    KNOWN_MESSAGES,
    ODD_WORD,
    in_digits,
    too_long,
)
from tests.security.form_defects import (
    DETAILS_REFUSED,
    NOT_FOUND,
    VERSION_DEFECTS,
    Context,
    Defect,
    Form,
    Values,
    comment_defects,
    longer_than,
    one,
    says,
)
from workflows.processes.iban.rib_checks import compact
from workflows.processes.kyc.reasons import REASONS

#: Every message these forms show, for the error reader (``bad_input.KNOWN_MESSAGES``).
_SHOWN: list[str] = []


def shown(message: str) -> str:
    """``message``, which a page of these forms shows as an error."""
    _SHOWN.append(re.escape(message))
    return message


# --- the back-office's task pages ------------------------------------------------------

#: Who posts them: the AD's staff, in a property of its own (the kyc and iban cases these
#: forms act on; their number would thin out the examples of the other staff forms).
TASK_STAFF = "staff_tasks"

SEEN = shown("Indiquez ce que vous avez vu : c'est enregistré dans l'historique.")
CHECKED = shown("Indiquez ce que vous avez vérifié : c'est enregistré dans l'historique.")
SOURCE_MISSING = shown("Indiquez où vous avez vu ce résultat.")
REASON_MISSING = shown("Choisissez le motif du refus dans la liste.")
NO_REASON = shown("Cochez au moins un motif de refus : le mandataire le lira.")
OTHER_MISSING = shown("Précisez l'autre motif : le mandataire le lira.")
OTHER_UNTICKED = shown("Cochez « Autre motif » pour envoyer ce motif au mandataire, ou effacez-le.")
OTHER_TOO_LONG = shown("Motif trop long (500 caractères au plus).")
#: A task page posted for a case it is not for (another process, another state).
TASK_DONE = shown("Cette tâche n'est plus à faire sur ce dossier : voici son état actuel.")

SOURCES = ("swan", "assoconnect", "autre")
#: What staff may tick to refuse a RIB.
REFUSALS = ("illisible", "titulaire", "ancien", "iban", "autre")


def _not_offered(offered: Collection[str], *near: str) -> st.SearchStrategy[str]:
    """A value the page does not offer: a forged post, a page older than its list."""
    return st.one_of(
        ODD_WORD, st.text(ANY_CHAR, min_size=1, max_size=20), st.sampled_from(near)
    ).filter(lambda s: s not in offered)


def _not_chosen(name: str, field: str, offered: Collection[str], message: str) -> Defect:
    """``field`` (a list or radio buttons) not answered, or answered with a value the
    page does not offer (case or spaces changed included)."""
    near = [variant for value in offered for variant in (value.upper(), f" {value}", f"{value} ")]
    return Defect(
        name,
        st.one_of(
            st.just({field: None}),
            one(field, BLANK),
            one(field, _not_offered(offered, *near, *(v.lower() for v in offered))),
        ),
        says(message),
    )


SOURCE_DEFECT = _not_chosen("source absente ou inconnue", "source", SOURCES, SOURCE_MISSING)
REASON_DEFECT = _not_chosen("motif absent ou inconnu", "reason", REASONS, REASON_MISSING)


def _ticked(*codes: str) -> Values:
    return {"reasons": list(codes)}


REFUSE_DEFECTS = (
    Defect(
        "aucun motif coché, ou un motif inconnu",
        st.one_of(
            st.just(_ticked()),
            _not_offered(REFUSALS, "ILLISIBLE", "Autre", "autre motif").map(
                lambda s: _ticked("illisible", s)
            ),
        ),
        says(NO_REASON),
    ),
    Defect(
        "« Autre motif » coché sans le dire",
        BLANK.map(lambda s: {**_ticked("autre"), "other": s}),
        says(OTHER_MISSING),
    ),
    Defect(
        "autre motif dit sans être coché",
        one("other", st.text(ANY_CHAR, min_size=1, max_size=40).filter(str.strip)),
        says(OTHER_UNTICKED),
    ),
    Defect(
        "autre motif trop long",
        st.tuples(too_long(500), st.sampled_from([("autre",), ("illisible",)])).map(
            lambda t: {**_ticked(*t[1]), "other": t[0]}
        ),
        says(OTHER_TOO_LONG),
    ),
    longer_than(2000, "message au mandataire trop long", "comment", "Commentaire trop long"),
)


def _posted_elsewhere(*keys: str) -> Callable[[Context], st.SearchStrategy[Values]]:
    """The form posted for another case of the context (another process or state)."""
    return lambda c: st.sampled_from([c[k] for k in keys]).map(lambda i: {"@url": i})


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
    at = url.replace("{case}", f"{{{case}}}")
    anywhere = url.replace("{case}", "{value}")
    return (
        Form(TASK_STAFF, at, valid, (*defects, *VERSION_DEFECTS), prefix=prefix, version_of=case),
        Form(
            TASK_STAFF,
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


SAW = {"version": "{version}", "source": "swan", "comment": "Vérification terminée, vue ce matin."}
VERIFIED = {"version": "{version}", "comment": "IBAN, titulaire et date lus sur le RIB."}

TASK_FORMS: dict[str, tuple[Form, ...]] = {
    "cases.identity_valid": _task_form(
        "/admin/dossiers/{case}/identite/verifiee",
        SAW,
        (SOURCE_DEFECT, *comment_defects("comment", SEEN)),
        prefix="valid-",
        case="kyc_open",
        elsewhere=("kyc_refused", "rib_review", "case"),
    ),
    "cases.identity_refused": _task_form(
        "/admin/dossiers/{case}/identite/refusee",
        {**SAW, "reason": "ExpiredDocument"},
        (REASON_DEFECT, SOURCE_DEFECT, *comment_defects("comment", SEEN)),
        prefix="refused-",
        case="kyc_open",
        elsewhere=("kyc_refused", "mismatch", "case"),
    ),
    "cases.rib_approve": _task_form(
        "/admin/dossiers/{case}/verifier-rib/approuver",
        VERIFIED,
        comment_defects("comment", CHECKED),
        prefix="approve-",
        case="rib_review",
        elsewhere=("mismatch", "kyc_open"),
    ),
    "cases.rib_refuse": _task_form(
        "/admin/dossiers/{case}/verifier-rib/refuser",
        {"version": "{version}", **_ticked("illisible"), "other": "", "comment": ""},
        REFUSE_DEFECTS,
        prefix="refuse-",
        case="rib_review",
        elsewhere=("mismatch", "case"),
    ),
    "cases.rib_ask_new": _task_form(
        "/admin/dossiers/{case}/verifier-rib/nouveau-rib",
        VERIFIED,
        comment_defects(),
        prefix="new_rib-",
        case="rib_review",
        elsewhere=("kyc_open", "case"),
    ),
    "cases.mismatch_confirm": _task_form(
        "/admin/dossiers/{case}/signalement/compte-confirme",
        VERIFIED,
        comment_defects("comment", CHECKED),
        prefix="confirm-",
        case="mismatch",
        elsewhere=("rib_review", "kyc_open"),
    ),
    "cases.mismatch_new_rib": _task_form(
        "/admin/dossiers/{case}/signalement/nouveau-rib",
        VERIFIED,
        comment_defects(),
        prefix="new_rib-",
        case="mismatch",
        elsewhere=("rib_review", "case"),
    ),
}

# --- the portal: « Compte bancaire », « Recommencer la vérification » -------------------

IBAN_REQUIRED = shown("Saisissez l'IBAN.")
IBAN_SHAPE = shown(
    "IBAN invalide : 2 lettres (le pays), 2 chiffres puis des lettres et des chiffres, "
    "34 caractères au plus, par exemple FR76 3000 6000 0112 3456 7890 189."
)
IBAN_TOO_LONG = shown("IBAN trop long : 34 caractères au plus.")
BIC_REQUIRED = shown("Saisissez le BIC.")
BIC_LENGTH = shown("BIC invalide : il compte 8 ou 11 caractères.")
BIC_FORMAT = shown(
    "BIC invalide : format incorrect (4 caractères pour la banque, 2 lettres pour le pays, "
    "2 caractères pour la ville, 3 facultatifs pour l'agence)."
)
HOLDER_REQUIRED = shown("Saisissez le titulaire du compte.")
DATE_REQUIRED = shown("Indiquez la date du RIB.")
DATE_INVALID = shown("Date invalide : indiquez-la sous la forme jj/mm/aaaa.")
RIB_REQUIRED = shown("Joignez votre RIB (PDF, PNG ou JPEG).")
RIB_EMPTY = "Le fichier envoyé est vide."
RIB_NOT_A_RIB = shown(
    "Ce fichier n'est ni un PDF, ni une image PNG ou JPEG (son contenu a été vérifié, pas "
    "seulement son nom). Joignez le RIB au format PDF, PNG ou JPEG."
)
RIB_PAST_THE_LIMIT = shown(
    "Le fichier dépasse 5 Mo : joignez le RIB téléchargé depuis votre banque en ligne."
)
MESSAGE_EMPTY = shown("Dites-nous ce qui ne va pas : votre message est vide.")
MESSAGE_TOO_LONG = "Votre message est trop long (2000 caractères au plus)."
#: A one-time token of someone else's form: its answer is not theirs to see.
NOT_YOURS = "Vous n'avez pas accès à cette page."

MEGABYTE = 1024 * 1024
#: The RIB's limit (5 Mo) and the site's, past which a request is not read (6 Mo).
RIB_LIMIT, SITE_LIMIT = 5 * MEGABYTE, 6 * MEGABYTE
PDF = b"%PDF-1.7\n" + b"0" * 200
SIGNATURES = (b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")


class Upload(BytesIO):
    """A file's stream that keeps its size once the test client has sent and closed it."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.size = len(content)


def _rib(content: bytes, name: str = "rib.pdf", kind: str = "application/pdf") -> Values:
    return {"rib": (Upload(content), name, kind)}


def _pdf() -> tuple[BytesIO, str, str]:
    """A fresh upload of a PDF RIB for each post (a stream is read once)."""
    return BytesIO(PDF), "rib.pdf", "application/pdf"


def _refused(*messages: str) -> Callable[[Values], list[str]]:
    return says(DETAILS_REFUSED, *messages)


def _reads_as_date(typed: str) -> bool:
    """What the form takes for a date: ASCII, ``2026-09-01`` or ``01/09/2026``."""
    typed = typed.strip()
    for format in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            datetime.strptime(typed, format)
        except ValueError:
            continue
        return typed.isascii()
    return False


def _too_heavy_says(values: Values) -> list[str]:
    size = values["rib"][0].size / MEGABYTE
    shown = f"{size:.1f}".replace(".", ",")
    return [DETAILS_REFUSED, f"Le fichier est trop lourd ({shown} Mo) : 5 Mo au plus."]


def _pdf_of(size: st.SearchStrategy[int]) -> st.SearchStrategy[Values]:
    return size.map(lambda n: _rib(b"%PDF-" + bytes(n - 5)))


IBAN_DEFECTS = (
    Defect("IBAN vide", one("iban", BLANK), _refused(IBAN_REQUIRED)),
    Defect(
        "IBAN mal formé",
        one(
            "iban",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=30),
                st.from_regex(
                    r"[A-Z]{2}[0-9]{2}[A-Z0-9]{0,10}|[0-9]{4}[A-Z0-9]{11,20}", fullmatch=True
                ),
                st.builds(in_digits, st.just("FR76 3000 6000 0112 3456 7890 189"), FOREIGN_DIGITS),
                ODD_WORD.map("FR76 3000 6000 {} 3456 7890 189".format),
            ).filter(lambda s: s.strip() and len(s) <= 60 and not _IBAN.fullmatch(compact(s))),
        ),
        _refused(IBAN_SHAPE),
    ),
    Defect("IBAN trop long", one("iban", too_long(60)), _refused(IBAN_SHAPE, IBAN_TOO_LONG)),
)
BIC_DEFECTS = (
    Defect("BIC vide", one("bic", BLANK), _refused(BIC_REQUIRED)),
    Defect(
        "BIC de mauvaise longueur",
        one(
            "bic",
            st.one_of(
                st.text(st.characters(categories=("L", "N")), min_size=1, max_size=20),
                st.from_regex(r"[A-Z]{6}[A-Z0-9]{0,1}|[A-Z]{6}[A-Z0-9]{3,4}", fullmatch=True),
                too_long(20),
            ).filter(lambda s: len(compact(s)) not in (8, 11)),
        ),
        _refused(BIC_LENGTH),
    ),
    Defect(
        "BIC mal formé",
        one(
            "bic",
            st.one_of(
                st.text(st.characters(categories=("L", "N", "P", "S")), min_size=8, max_size=8),
                st.text(st.characters(categories=("L", "N", "P", "S")), min_size=11, max_size=11),
                st.from_regex(r"[0-9]{4}FRPP|AGRI[0-9]{2}PP|AGRIFRPP[_*-]{3}", fullmatch=True),
            ).filter(lambda s: len(compact(s)) in (8, 11) and not _BIC.fullmatch(compact(s))),
        ),
        _refused(BIC_FORMAT),
    ),
)
HOLDER_DEFECTS = (
    Defect("titulaire vide", one("holder", BLANK), _refused(HOLDER_REQUIRED)),
    Defect(
        "titulaire trop long",
        one("holder", too_long(140)),
        _refused(shown("Nom du titulaire trop long (140 caractères au plus).")),
    ),
)
DATE_DEFECTS = (
    Defect("date vide", one("rib_date", BLANK), _refused(DATE_REQUIRED)),
    Defect(
        "date illisible",
        one(
            "rib_date",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=12),
                st.from_regex(
                    r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|2026-(1[3-9]|00)-01|2026-02-3[01]|"
                    r"[0-9]{2}\.[0-9]{2}\.[0-9]{4}",
                    fullmatch=True,
                ),
                st.builds(in_digits, st.sampled_from(["2026-06-01", "01/06/2026"]), FOREIGN_DIGITS),
            ).filter(lambda s: s.strip() and not _reads_as_date(s)),
        ),
        _refused(DATE_INVALID),
    ),
)
NOT_A_RIB = st.binary(min_size=1, max_size=512).filter(lambda b: not b.startswith(SIGNATURES))
FILE_DEFECTS = (
    Defect(
        "sans RIB",
        st.one_of(st.just({"rib": None}), st.builds(lambda: _rib(b"", "", "text/plain"))),
        _refused(RIB_REQUIRED),
    ),
    Defect("RIB vide", st.builds(lambda: _rib(b"")), _refused(RIB_EMPTY)),
    Defect(
        "RIB qui n'est ni un PDF ni une image",
        st.builds(
            _rib,
            NOT_A_RIB,
            st.sampled_from(["rib.pdf", "RIB.PNG", "rib.jpg", "relevé d'identité", "rib.gif"]),
            st.sampled_from(["application/pdf", "image/png", "image/jpeg", "image/gif"]),
        ),
        _refused(RIB_NOT_A_RIB),
    ),
    Defect(
        "RIB de plus de 5 Mo",
        _pdf_of(st.integers(RIB_LIMIT + 1, SITE_LIMIT - 64 * 1024)),
        _too_heavy_says,
    ),
    Defect(
        "RIB au-delà de ce que le site lit",
        _pdf_of(st.integers(SITE_LIMIT + 1, SITE_LIMIT + MEGABYTE // 2)),
        _refused(RIB_PAST_THE_LIMIT),
        status=413,
    ),
)


def _someone_elses(context: Context) -> st.SearchStrategy[Values]:
    return st.just({"submission": context["foreign_submission"]})


#: The hidden one-time token of the forms that start work (``web/submissions.py``).
FOREIGN_TOKEN = Defect("jeton d'un formulaire d'un autre", _someone_elses, says(NOT_YOURS), 403)


def _nul_in(*fields: str) -> Defect:
    """A NUL character in one of ``fields``: refused before any view (web/guards.py)."""
    return Defect(
        "caractère nul",
        st.tuples(st.sampled_from(fields), ODD_WORD, ODD_WORD).map(
            lambda t: {t[0]: f"{t[1]}\x00{t[2]}"}
        ),
        says(),
    )


#: Who posts « Le compte affiché n'est pas le nôtre »: a mandataire whose account is
#: certified, a session of its own (the other mandataire's RIB is still awaited).
CERTIFIED_MANDATAIRE = "certified_mandataire"
RIB = {
    "iban": "FR76 3000 6000 0112 3456 7890 189",
    "bic": "AGRIFRPP",
    "holder": "OCCE Coopérative scolaire",
    "rib_date": "2026-06-01",
    "rib": _pdf,
}

PORTAL_FORMS: dict[str, tuple[Form, ...]] = {
    "portal.iban.submit": (
        Form(
            "mandataire",
            "/mon-espace/compte-bancaire",
            RIB,
            (
                *IBAN_DEFECTS,
                *BIC_DEFECTS,
                *HOLDER_DEFECTS,
                *DATE_DEFECTS,
                *FILE_DEFECTS,
                FOREIGN_TOKEN,
                _nul_in("iban", "bic", "holder", "rib_date", "submission"),
            ),
        ),
    ),
    "portal.kyc.retry": (
        Form(
            "mandataire",
            "/mon-espace/identite/recommencer",
            {},
            (FOREIGN_TOKEN, _nul_in("submission", "motif")),
        ),
    ),
    "portal.iban.report_mismatch": (
        Form(
            CERTIFIED_MANDATAIRE,
            "/mon-espace/compte-bancaire/signaler",
            {"message": "Ce n'est pas l'IBAN de notre coopérative."},
            (
                Defect("message vide", one("message", BLANK), says(MESSAGE_EMPTY)),
                Defect("message trop long", one("message", too_long(2000)), says(MESSAGE_TOO_LONG)),
                FOREIGN_TOKEN,
                _nul_in("message", "submission"),
            ),
        ),
    ),
}

BANK_FORMS = {**TASK_FORMS, **PORTAL_FORMS}

#: Besides: the labels of the RIB form's fields before their message in the page's
#: summary, and the file's size said in the message.
KNOWN_MESSAGES.extend(
    re.compile(pattern, re.S)
    for pattern in (
        *_SHOWN,
        r"(IBAN|BIC|Titulaire du compte|Date du RIB|RIB \(PDF, PNG ou JPEG\)) :",
        r"Le fichier est trop lourd \(\d+,\d Mo\) : 5 Mo au plus\.",
    )
)
