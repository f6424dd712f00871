"""The table of ``test_bad_input_forms``: every form that writes (``FORMS``, by endpoint),
with valid values and the ways each field can be wrong (``Defect``): what is drawn, the
status and the exact French message the user must read."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any

from hypothesis import strategies as st

from admin.imports import CSV_TYPES
from tests.security.bad_input import (
    ANY_CHAR,
    BLANK,
    FOREIGN_DIGITS,
    HUGE_NUMBER,
    LONG_EMAILS,
    MALFORMED_EMAILS,
    NO_SUCH_ID,
    ODD_WORD,
    WELL_FORMED_UNKNOWN,
    in_digits,
    not_an_integer,
    too_long,
)
from workflows.coop_edit import EDITABLE
from workflows.engine.engine import Actor

SYSTEM = Actor.system("test")
Values = dict[str, Any]
Context = dict[str, Any]


@dataclass(frozen=True)
class Defect:
    """One way a form can be wrong, and what the user must read then."""

    name: str
    #: The fields it changes (``@url``: the value goes into the URL), or, given the
    #: test's context (ids, versions, emails), the strategy drawing them.
    values: st.SearchStrategy[Values] | Callable[[Context], st.SearchStrategy[Values]]
    says: Callable[[Values], list[str]]
    status: int = 422
    #: Refused after a redirect: the next page says why.
    follow: bool = False
    #: Words the page must hold outside its errors (an answer that refuses nothing).
    page_says: str = ""

    def strategy(self, context: Context) -> st.SearchStrategy[Values]:
        if isinstance(self.values, st.SearchStrategy):
            return self.values
        return self.values(context)


@dataclass(frozen=True)
class Form:
    """A form as its page posts it: ``url`` and ``valid`` take ``{names}`` of the context
    (and ``{value}``, ``{value_url}`` of an ``@url`` defect)."""

    who: str
    url: str
    valid: Mapping[str, Any]
    defects: tuple[Defect, ...]
    prefix: str = ""
    #: The context key of the case whose version the form carries.
    version_of: str | None = None


def one(name: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Values]:
    return values.map(lambda v: {name: v})


def says(*messages: str) -> Callable[[Values], list[str]]:
    return lambda _values: list(messages)


def longer_than(limit: int, name: str, field: str, words: str) -> Defect:
    """``field`` over its ``limit`` characters, refused with « ``words`` (``limit``
    caractères au plus). »"""
    return Defect(name, one(field, too_long(limit)), says(f"{words} ({limit} caractères au plus)."))


# --- the defects ----------------------------------------------------------------------

WRONG = "Adresse email ou mot de passe incorrect."
EMAIL_DEFECTS = (
    Defect("email vide", one("email", BLANK), says("Saisissez votre adresse email.")),
    Defect(
        "email mal formé",
        one("email", MALFORMED_EMAILS),
        says("Cette adresse email n'est pas valide."),
    ),
    Defect(
        "email trop long",
        one("email", LONG_EMAILS),
        says(
            "Cette adresse email n'est pas valide.",
            "Adresse email trop longue (254 caractères au plus).",
        ),
    ),
)
LOGIN_DEFECTS = (
    *EMAIL_DEFECTS,
    Defect("mot de passe vide", one("password", BLANK), says("Saisissez votre mot de passe.")),
    Defect("email inconnu", one("email", WELL_FORMED_UNKNOWN), says(WRONG), status=401),
    Defect(
        "mauvais mot de passe",
        one("password", st.text(ANY_CHAR, min_size=1, max_size=40).filter(str.strip)),
        says(WRONG),
        status=401,
    ),
)

#: Strong on every rule, with none of the mandataires' names (Éloïse Martin).
STRONG = "Kq7*vbz-Wp3!"
#: Letters without case (CJK, Arabic…), digits, marks, symbols: « º » is lowercase.
CASELESS = st.characters(categories=("Lo", "Nd", "Mn", "Po", "So")).filter(
    lambda c: not (c.islower() or c.isupper())
)


def both(passwords: st.SearchStrategy[str]) -> st.SearchStrategy[Values]:
    return passwords.map(lambda p: {"password": p, "confirmation": p})


PASSWORD_DEFECTS = (
    Defect("vide", one("password", BLANK), says("Saisissez un mot de passe.")),
    Defect("sans confirmation", one("confirmation", BLANK), says("Confirmez votre mot de passe.")),
    Defect(
        "confirmation différente",
        one("confirmation", st.text(ANY_CHAR, min_size=1, max_size=20).filter(str.strip)),
        says("Les deux mots de passe ne sont pas identiques."),
    ),
    Defect(
        "trop court",
        both(st.text(ANY_CHAR, min_size=1, max_size=7).filter(str.strip)),
        says("Le mot de passe doit contenir au moins 8 caractères."),
    ),
    Defect(
        "trop long",
        both(st.text(ANY_CHAR, min_size=117, max_size=200).map(lambda s: STRONG + s)),
        says("Le mot de passe ne doit pas dépasser 128 caractères."),
    ),
    Defect(
        "sans chiffre",
        both(st.text(st.characters(exclude_categories=("Cs", "Nd"))).map("Kq*vbz-Wp!{}".format)),
        says("Le mot de passe doit contenir au moins un chiffre."),
    ),
    Defect(
        "sans majuscule",
        both(st.text(CASELESS, max_size=10).map("kq7*vbz{}".format)),
        says("Le mot de passe doit contenir au moins une lettre majuscule."),
    ),
    Defect(
        "sans minuscule",
        both(st.text(CASELESS, max_size=10).map("KQ7*VBZ{}".format)),
        says("Le mot de passe doit contenir au moins une lettre minuscule."),
    ),
    Defect(
        "sans caractère spécial",
        both(
            st.text(
                st.characters(exclude_categories=("Cs",), exclude_characters="*!?#;%$^.\\/€£")
            ).map("Kq7vbzWp3{}".format)
        ),
        says("Le mot de passe doit contenir au moins un caractère spécial parmi"),
    ),
    Defect(
        "avec le prénom",
        both(st.sampled_from(["Eloise", "ÉLOÏSE", "éloïse", "eLoIsE"]).map(STRONG.__add__)),
        says("Le mot de passe ne doit pas contenir votre prénom."),
    ),
    Defect(
        "avec le nom",
        both(st.sampled_from(["Martin", "MARTIN", "mArTiN"]).map(STRONG.__add__)),
        says("Le mot de passe ne doit pas contenir votre nom."),
    ),
)


DETAILS_REFUSED = "Rien n'a été enregistré : corrigez le champ signalé ci-dessous."


def _postal_code_says(values: Values) -> list[str]:
    shown = "".join(values["postal_code"].split())
    return [
        DETAILS_REFUSED,
        f"Code postal « {shown} » invalide : 5 chiffres attendus, par exemple 50000.",
    ]


def _details(name: str, values: st.SearchStrategy[Values], message: str) -> Defect:
    return Defect(name, values, says(DETAILS_REFUSED, message))


def _not_five_digits(raw: str) -> bool:
    squeezed = "".join(raw.split())
    return bool(squeezed) and not re.fullmatch(r"[0-9]{5}", squeezed)


PHONE_INVALID = (
    "Numéro de téléphone invalide : 10 chiffres commençant par 0 attendus, "
    "par exemple 02 33 57 46 61."
)
NOT_AN_IMAGE = st.binary(min_size=1, max_size=512).filter(
    lambda b: not b.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"))
)


def _logo(content: st.SearchStrategy[bytes]) -> st.SearchStrategy[Values]:
    names = st.sampled_from(["logo.png", "logo.jpg", "école.jpeg", "logo"])
    kinds = st.sampled_from(["image/png", "image/jpeg"])
    return st.builds(lambda c, n, k: {"logo": (BytesIO(c), n, k)}, content, names, kinds)


DETAILS_DEFECTS = (
    Defect(
        "code postal invalide",
        one(
            "postal_code",
            st.one_of(
                st.from_regex(r"[0-9]{1,4}|[0-9]{6,9}", fullmatch=True),
                st.text(ANY_CHAR, min_size=1, max_size=10),
                FOREIGN_DIGITS.map(lambda d: in_digits("06000", d)),
            ).filter(_not_five_digits),
        ),
        _postal_code_says,
    ),
    _details(
        "rue manquante",
        one("street", BLANK),
        "Indiquez le numéro et la rue (ou effacez aussi la commune).",
    ),
    _details("commune manquante", one("city", BLANK), "Indiquez la commune."),
    _details("code postal manquant", one("postal_code", BLANK), "Indiquez le code postal."),
    _details(
        "rue trop longue",
        one("street", too_long(300)),
        "Adresse trop longue (300 caractères au plus).",
    ),
    _details(
        "commune trop longue",
        one("city", too_long(100)),
        "Nom de commune trop long (100 caractères au plus).",
    ),
    _details(
        "téléphone invalide",
        one(
            "phone",
            st.one_of(
                st.text(st.characters(categories=("L", "P", "S")), min_size=1, max_size=14),
                st.from_regex(r"0[1-9][0-9]{0,7}|0[1-9][0-9]{9,12}|0044[0-9]{9}", fullmatch=True),
                st.builds(
                    in_digits,
                    st.sampled_from(["02 33 57 46 61", "+33 4 93 00 00 00"]),
                    FOREIGN_DIGITS,
                ),
                ODD_WORD.filter(lambda s: not s.isdigit()).map("04 93 {} 00 00".format),
            ).filter(str.strip),
        ),
        PHONE_INVALID,
    ),
    _details("logo vide", _logo(st.just(b"")), "Le fichier envoyé est vide."),
    _details("logo qui n'est pas une image", _logo(NOT_AN_IMAGE), "pas une image PNG ou JPEG"),
)
STALE = "Ce dossier vient d'être modifié par quelqu'un d'autre."
INCOMPLETE = "Ce formulaire est incomplet : rechargez la page et recommencez."


def _stale_version(context: Context) -> st.SearchStrategy[Values]:
    other = st.integers(0, 10**30).filter(lambda n: n != context["version"])
    return one("version", other.map(str))


#: « Signaler un problème », « Tout est correct »: a version the page did not show.
SPACE_VERSION_DEFECTS = (
    Defect(
        "version absente ou illisible",
        one(
            "version",
            st.one_of(BLANK, st.text(ANY_CHAR, max_size=6), FOREIGN_DIGITS.map(lambda d: d[3])),
        ).filter(lambda v: not re.fullmatch("[0-9]+", v["version"])),
        says(INCOMPLETE),
        status=409,
    ),
    Defect("version périmée", _stale_version, says(STALE), status=409),
)

COMMENT_REQUIRED = "Indiquez un commentaire : il est enregistré dans l'historique du dossier."
COMMENT_LONG = "Commentaire trop long (2000 caractères au plus)."


def comment_defects(name: str = "comment", required: str = COMMENT_REQUIRED) -> tuple[Defect, ...]:
    return (
        Defect("commentaire vide", one(name, BLANK), says(required)),
        Defect("commentaire trop long", one(name, too_long(2000)), says(COMMENT_LONG)),
    )


#: The case page's forms carry the case's version (the optimistic lock).
VERSION_DEFECTS = (
    Defect("version absente", one("version", st.just("")), says("Version du dossier manquante.")),
    Defect(
        "version illisible",
        one(
            "version",
            st.one_of(ODD_WORD, FOREIGN_DIGITS.map(lambda d: d[-1])).filter(not_an_integer),
        ),
        says("Version du dossier illisible : rechargez la page."),
    ),
    Defect("version périmée", _stale_version, says(STALE), status=200, follow=True),
)
ACTION_DEFECTS = (*comment_defects(), *VERSION_DEFECTS)


def _fix_email_says(values: Values) -> list[str]:
    email = values["email"]
    if len(email) > 254:
        return ["Adresse email trop longue (254 caractères au plus)."]
    return [f"L'adresse « {email.strip()} » n'est pas valide."]


def _postal_code_edit_says(values: Values) -> list[str]:
    shown = " ".join(values["postal_code"].split()).replace(" ", "")
    hint = " ; le tableur a-t-il supprimé le 0 initial ?" if len(shown) == 4 else ""
    return [f"Code postal « {shown} » invalide (5 chiffres attendus{hint})."]


def _school_email_says(values: Values) -> list[str]:
    shown = " ".join(values["school_email"].split()).lower()
    return [f"Email de l'école « {shown} » invalide." if shown else "Email de l'école manquant."]


COOP_EDIT_FIELDS = tuple(c.field for c in EDITABLE)
COOP_EDIT_DEFECTS = (
    Defect("nom vide", one("name", BLANK), says("Nom de la coopérative manquant.")),
    Defect("école vide", one("school_name", BLANK), says("Nom de l'école manquant.")),
    longer_than(200, "nom trop long", "name", "Nom de la coopérative trop long"),
    longer_than(300, "adresse trop longue", "street", "Adresse trop longue"),
    Defect(
        "prénom vide", one("mandataire_first_name", BLANK), says("Prénom du mandataire manquant.")
    ),
    Defect(
        "code postal faux",
        one(
            "postal_code",
            st.one_of(
                ODD_WORD, FOREIGN_DIGITS, st.from_regex(r"[0-9]{1,4}|[0-9]{6,9}", fullmatch=True)
            )
            .filter(lambda v: " ".join(v.split()) != "")
            .filter(lambda v: not re.fullmatch(r"[0-9]{5}", "".join(v.split()))),
        ),
        _postal_code_edit_says,
    ),
    Defect("email de l'école mal formé", one("school_email", MALFORMED_EMAILS), _school_email_says),
    Defect(
        "email du mandataire hors domaine académique",
        one(
            "mandataire_email",
            st.from_regex(r"[a-z]{2,10}\.[a-z]{2,10}@gmail\.com", fullmatch=True),
        ),
        says("L'email du mandataire doit être sur un domaine académique de l'AD06 (ac-nice.fr)."),
    ),
    Defect(
        "email d'un autre mandataire",
        lambda context: st.just({"mandataire_email": context["mandataire_email"]}),
        says("Cette adresse est déjà celle d'un autre mandataire."),
    ),
    Defect(
        "page périmée",
        one("seen", st.text(ANY_CHAR, max_size=40)),
        says("La coopérative vient d'être modifiée par quelqu'un d'autre"),
    ),
    Defect(
        "tâche inconnue",
        one("close_tasks", NO_SUCH_ID.map(str) | HUGE_NUMBER | ODD_WORD),
        says("Cette tâche n'est plus à faire : rechargez la page."),
    ),
    longer_than(2000, "commentaire trop long", "comment", "Commentaire trop long"),
)

FIX_EMAIL_DEFECTS = (
    Defect("email vide", one("email", BLANK), says("Saisissez la nouvelle adresse email.")),
    Defect(
        "email mal formé", one("email", st.one_of(MALFORMED_EMAILS, LONG_EMAILS)), _fix_email_says
    ),
    Defect(
        "domaine non académique",
        one(
            "email",
            st.from_regex(
                r"[a-z]{2,10}\.[a-z]{2,10}@(gmail\.com|ac-caen\.fr|ac-nice\.fr\.evil\.com)",
                fullmatch=True,
            ),
        ),
        says("L'adresse doit être sur un domaine académique de l'AD (ac-nice.fr)."),
    ),
    Defect(
        "l'adresse refusée",
        lambda c: one(
            "email",
            st.sampled_from(
                [c["bounced_email"], c["bounced_email"].upper(), f"  {c['bounced_email']} "]
            ),
        ),
        says("C'est l'adresse qui a été refusée : saisissez l'adresse corrigée."),
    ),
    Defect(
        "l'adresse d'un autre",
        lambda c: st.just({"email": c["mandataire_email"]}),
        says("Cette adresse est déjà celle d'un autre mandataire."),
    ),
    *ACTION_DEFECTS,
)
NOT_STAFF = "Choisissez un membre de l'équipe dans la liste."
ASSIGN_DEFECTS = (
    Defect(
        "pas un id",
        one(
            "assignee",
            st.text(ANY_CHAR, min_size=1, max_size=10).filter(
                lambda s: not re.fullmatch("[0-9]+|moi|personne", s)
            ),
        ),
        says(NOT_STAFF),
    ),
    Defect(
        "chiffres étrangers", one("assignee", FOREIGN_DIGITS.map(lambda d: d[1:3])), says(NOT_STAFF)
    ),
    Defect("nombre géant", one("assignee", HUGE_NUMBER), says(NOT_STAFF)),
    Defect(
        "personne de l'équipe",
        one("assignee", NO_SUCH_ID.map(str)),
        says("Ce membre de l'équipe ne peut pas traiter ce dossier."),
    ),
    Defect(
        "déjà assigné",
        st.sampled_from([{"assignee": "personne"}, {"assignee": ""}]),  # "": an older page
        says("Le dossier est déjà assigné à personne."),
    ),
    Defect("commentaire trop long", one("comment", too_long(2000)), says(COMMENT_LONG)),
    *VERSION_DEFECTS,
)


def _iso_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


TASK_DEFECTS = (
    Defect("titre vide", one("title", BLANK), says("Indiquez ce qu'il faut faire.")),
    longer_than(300, "titre trop long", "title", "Titre trop long"),
    Defect(
        "sans échéance", one("due", st.just("")), says("Indiquez une échéance valide (jj/mm/aaaa).")
    ),
    Defect(
        "échéance illisible",
        one(
            "due",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=12),
                st.from_regex(
                    r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|2026-(1[3-9]|00)-01|2026-02-3[01]",
                    fullmatch=True,
                ),
                FOREIGN_DIGITS.map(lambda d: in_digits("2026-10-01", d)),
            ).filter(lambda s: s.strip() and not _iso_date(s)),
        ),
        says("Date invalide : utilisez le format jj/mm/aaaa."),
    ),
    Defect(
        "échéance passée",
        one("due", st.dates(date(1, 1, 2), date(2026, 9, 6)).map(date.isoformat)),
        says("L'échéance doit être dans le futur."),
    ),
    longer_than(2000, "précisions trop longues", "note", "Précisions trop longues"),
)

NOTHING_DONE = "Rien n'a été fait :"
SELECTION_INVALID = "Sélection invalide : rechargez la liste."


def _bulk(name: str, values: Any, message: str) -> Defect:
    return Defect(name, values, says(NOTHING_DONE, message))


def _selection(odd: st.SearchStrategy[str]) -> Callable[[Context], st.SearchStrategy[Values]]:
    return lambda c: odd.map(lambda v: {"case_id": [str(c["case"]), v]})


BULK_DEFECTS = (
    _bulk("sans action", one("action", BLANK), "Choisissez une action."),
    _bulk(
        "commentaire vide",
        one("comment", BLANK),
        "Indiquez un commentaire : il est enregistré dans l'historique des dossiers.",
    ),
    _bulk(
        "commentaire trop long",
        one("comment", too_long(2000)),
        "Commentaire trop long (2 000 caractères au plus).",
    ),
    _bulk(
        "portée inconnue",
        one(
            "portee",
            st.text(ANY_CHAR, max_size=10).filter(lambda s: s not in ("selection", "filtre")),
        ),
        "Choisissez « Appliquer aux dossiers cochés » ou « Appliquer à tout le filtre ».",
    ),
    _bulk(
        "case cochée illisible",
        _selection(
            st.text(ANY_CHAR, min_size=1, max_size=8).filter(
                lambda s: not re.fullmatch("[0-9]+", s)
            )
        ),
        SELECTION_INVALID,
    ),
    _bulk(
        "chiffres étrangers", _selection(FOREIGN_DIGITS.map(lambda d: d[1:3])), SELECTION_INVALID
    ),
    _bulk("nombre géant", _selection(HUGE_NUMBER), SELECTION_INVALID),
    _bulk(
        "rien de coché",
        st.just({"case_id": []}),
        "Aucun dossier coché : cochez au moins un dossier.",
    ),
    _bulk(
        "dossier inconnu",
        _selection(NO_SUCH_ID.map(str)),
        "Dossiers introuvables ou hors de votre périmètre",
    ),
    _bulk(
        "action inconnue",
        one(
            "action",
            st.one_of(
                ODD_WORD.filter(
                    lambda s: s.partition(":")[0] not in ("fire", "assign", "retry_step")
                ),
                st.text(ANY_CHAR, max_size=10)
                .filter(lambda s: s not in ("resend", "cancel", "invite", "ask_again", "bounce"))
                .map("fire:{}".format),
            ),
        ),
        "Action inconnue : « ",
    ),
    _bulk(
        "assigné illisible",
        one(
            "assignee",
            st.one_of(
                st.text(ANY_CHAR, max_size=8), FOREIGN_DIGITS.map(lambda d: d[:2]), HUGE_NUMBER
            ).filter(lambda s: s not in ("moi", "personne") and not re.fullmatch("[0-9]{1,18}", s)),
        ),
        "Choisissez à qui assigner les dossiers.",
    ),
    _bulk(
        "assigné inconnu",
        one("assignee", NO_SUCH_ID.map(str)),
        "Choisissez un membre de l'équipe qui peut traiter ces dossiers.",
    ),
    _bulk(
        "filtre illisible",
        st.tuples(
            st.one_of(ODD_WORD, FOREIGN_DIGITS, HUGE_NUMBER), st.one_of(ODD_WORD, HUGE_NUMBER)
        ).map(
            lambda t: {"portee": "filtre", "etat": "invitation.aucun", "age": t[0], "assigne": t[1]}
        ),
        "Aucun dossier ne correspond à ce filtre.",
    ),
    _bulk(
        "filtre sans dossier",
        NO_SUCH_ID.map(lambda n: {"portee": "filtre", "assigne": str(n)}),
        "Aucun dossier ne correspond à ce filtre.",
    ),
)

#: Triggers the page does not offer on a bounced invitation (unknown, or not for staff).
TRIGGERS = st.one_of(
    st.sampled_from(["invite", "set_password", "first_login", "sent", "bounce", "confirm"]),
    st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
    ODD_WORD,
).filter(lambda t: t not in ("cancel", "resend") and t.strip(".") and "/" not in t)
NOT_OFFERED = "Cette action n'est pas possible sur ce dossier dans son état actuel"

NOT_FOUND = Defect(
    "id inexistant", one("@url", NO_SUCH_ID), says("Cette page n'existe pas."), status=404
)
CHOOSE_AD = "Choisissez une AD de la liste."


def _csv_file() -> tuple[BytesIO, str, str]:
    content = (
        "numero_affiliation;nom_cooperative;ecole;email_ecole;prenom_mandataire;"
        "nom_mandataire;email_mandataire\n0060104D;Coop Pastorelli;École Pastorelli;"
        "ce.0060104d@ac-nice.fr;Julie;Roux;julie.roux@ac-nice.fr\n"
    )
    return BytesIO(content.encode()), "coops.csv", "text/csv"


IMPORT_DEFECTS = (
    Defect("sans fichier", st.just({"file": None}), says("Choisissez le fichier CSV à importer.")),
    Defect(
        "AD illisible",
        one(
            "ad_id",
            st.one_of(ODD_WORD, BLANK, FOREIGN_DIGITS.map(lambda d: d[1])).filter(not_an_integer),
        ),
        says(CHOOSE_AD),
    ),
    Defect("AD inconnue", one("ad_id", NO_SUCH_ID.map(str)), says(CHOOSE_AD)),
    Defect("AD géante", one("ad_id", HUGE_NUMBER), says(CHOOSE_AD)),
    Defect(
        "pas un .csv",
        st.text(ANY_CHAR, min_size=1, max_size=20)
        .filter(
            lambda s: (
                not s.lower().endswith(".csv")
                and "".join(s.split()).strip(".")  # a blank name is no file: its own defect
                and s.isprintable()  # browsers escape CR and LF in file names, the test client not
                and not {"/", "\\"} & set(s)
            )
        )
        .map(lambda name: {"file": (BytesIO(b"a;b\n"), name, "text/csv")}),
        says("Le fichier doit être au format CSV (.csv)"),
    ),
    Defect(
        "type qui n'est pas du CSV",
        st.from_regex(r"(image|application|audio|video|text)/[a-z0-9.+-]{1,20}", fullmatch=True)
        .filter(lambda t: t not in CSV_TYPES)
        .map(lambda t: {"file": (_csv_file()[0], "coops.csv", t)}),
        lambda v: [f"Ce type de fichier ({v['file'][2]}) n'est pas un CSV."],
    ),
)


def _signed_by_someone_else(context: Context) -> st.SearchStrategy[Values]:
    other = st.integers(1, 10**6).filter(lambda n: n != context["staff_id"])
    return other.map(
        lambda n: {
            "payload": context["serializer"].dumps(
                {"ad": context["ad_id"], "invite": False, "by": n, "name": "x.csv", "csv": "a"}
            )
        }
    )


CONFIRM_IMPORT_DEFECTS = (
    Defect("aperçu vide", one("payload", BLANK), says("Aperçu manquant : recommencez l'import.")),
    Defect(
        "aperçu forgé",
        one("payload", st.text(ANY_CHAR, min_size=1, max_size=60).filter(str.strip)),
        says("La demande n'a pas pu être traitée"),
        status=400,
    ),
    Defect(
        "aperçu d'un autre",
        _signed_by_someone_else,
        says("Vous n'avez pas accès à cette page."),
        status=403,
    ),
)
#: Flask-Admin's own editing routes of the read-only lists: closed, whatever is posted.
ANY_FIELDS = st.dictionaries(
    st.sampled_from(["name", "id", "rowid", "action", "subject", "list_form_pk", "value"]),
    st.text(ANY_CHAR, max_size=10),
)
CLOSED = (
    Defect("formulaire quelconque", ANY_FIELDS, says("Cette page n'existe pas."), status=404),
)


# --- the forms ------------------------------------------------------------------------

LOGIN = {"email": "{mandataire_email}", "password": "Mauvais*2026"}
PASSWORDS = {"password": STRONG, "confirmation": STRONG}
ADDRESS = {"street": "3 rue Pastorelli", "postal_code": "06000", "city": "Nice", "phone": ""}
ACTION = {"version": "{version}", "comment": "Appel de l'école ce matin."}
SEES_NOTHING = (
    Defect(
        "adresse inconnue",
        one("email", WELL_FORMED_UNKNOWN),
        says(),
        status=200,
        page_says="Si un compte existe pour cette adresse, un email vient de vous être envoyé",
    ),
)

FORMS: dict[str, tuple[Form, ...]] = {
    "auth.login": (Form("visitor", "/connexion", LOGIN, LOGIN_DEFECTS),),
    "admin.login": (
        Form("visitor", "/admin/connexion", {**LOGIN, "email": "{staff_email}"}, LOGIN_DEFECTS),
    ),
    "invitation.setup_password": (
        Form("visitor", "/invitation/{token}", PASSWORDS, PASSWORD_DEFECTS),
    ),
    "password_reset.choose_password": (
        Form("visitor", "/mot-de-passe-perdu/{reset}", PASSWORDS, PASSWORD_DEFECTS),
    ),
    "password_reset.request_link": (
        Form("visitor", "/mot-de-passe-perdu", {"email": "x@ac-nice.fr"}, EMAIL_DEFECTS),
        # An unknown address gets the sentence every address gets: nothing to refuse.
        Form("visitor", "/mot-de-passe-perdu", {}, SEES_NOTHING),
    ),
    "portal.space.update_details": (
        Form("mandataire", "/mon-espace/verification/coordonnees", ADDRESS, DETAILS_DEFECTS),
    ),
    "portal.space.report_problem": (
        Form(
            "mandataire",
            "/mon-espace/verification/signaler",
            {"version": "{version}", "message": "Ce n'est pas notre école."},
            (
                Defect(
                    "message vide",
                    one("message", BLANK),
                    says("Décrivez le problème constaté : votre message est vide."),
                ),
                longer_than(2000, "message trop long", "message", "Votre message est trop long"),
                *SPACE_VERSION_DEFECTS,
            ),
            version_of="space_id",
        ),
    ),
    "portal.space.confirm": (
        Form(
            "mandataire",
            "/mon-espace/verification/confirmer",
            {"version": "{version}", "fingerprint": "{fingerprint}"},
            (
                Defect(
                    "page d'avant un changement",
                    lambda c: one(
                        "fingerprint",
                        st.text(ANY_CHAR, max_size=40).filter(lambda f: f != c["fingerprint"]),
                    ),
                    says("Les informations de votre espace ont changé depuis l'affichage"),
                    status=409,
                ),
                *SPACE_VERSION_DEFECTS,
            ),
            version_of="space_id",
        ),
    ),
    "cases.comment": (
        Form(
            "staff",
            "/admin/dossiers/{bounced}/commenter",
            {"text": "Appel de l'école."},
            comment_defects("text", "Le commentaire est vide."),
            prefix="comment-",
        ),
    ),
    "cases.fire": (
        Form(
            "staff",
            "/admin/dossiers/{bounced}/declencher/cancel",
            ACTION,
            ACTION_DEFECTS,
            prefix="cancel-",
            version_of="bounced",
        ),
        Form(
            "staff",
            "/admin/dossiers/{bounced}/declencher/resend",
            ACTION,
            ACTION_DEFECTS,
            prefix="resend-",
            version_of="bounced",
        ),
        Form(
            "staff",
            "/admin/dossiers/{bounced}/declencher/{value_url}",
            ACTION,
            (
                Defect(
                    "action impossible",
                    one("@url", TRIGGERS),
                    says("Action « "),
                    status=200,
                    follow=True,
                ),
                Defect(
                    "action impossible, commentaire vide",
                    TRIGGERS.map(lambda t: {"@url": t, "comment": ""}),
                    says(NOT_OFFERED),
                ),
            ),
            prefix="{prefix}",
            version_of="bounced",
        ),
    ),
    "cases.retry": (
        Form(
            "staff",
            "/admin/dossiers/{failed}/etapes/{failed_step}/relancer",
            ACTION,
            ACTION_DEFECTS,
            prefix="step{failed_step}-",
            version_of="failed",
        ),
        Form(
            "staff",
            "/admin/dossiers/{bounced}/etapes/{value}/relancer",
            ACTION,
            (
                Defect(
                    "étape inconnue",
                    one("@url", NO_SUCH_ID),
                    says("Étape introuvable."),
                    status=200,
                    follow=True,
                ),
                Defect(
                    "étape inconnue, commentaire vide",
                    NO_SUCH_ID.map(lambda n: {"@url": n, "comment": ""}),
                    says(NOT_OFFERED),
                ),
            ),
            prefix="step{prefix}",
            version_of="bounced",
        ),
    ),
    "cases.fix_email": (
        Form(
            "staff",
            "/admin/dossiers/{bounced}/corriger-email",
            {**ACTION, "email": "prenom.nom@ac-nice.fr"},
            FIX_EMAIL_DEFECTS,
            prefix="fix-",
            version_of="bounced",
        ),
    ),
    "coops.coop_edit": (
        Form(
            "staff",
            "/admin/cooperatives/{bounced_coop}/modifier",
            {
                **{field: f"{{coop_{field}}}" for field in COOP_EDIT_FIELDS},
                "city": "Nice",
                "seen": "{coop_seen}",
                "comment": "",
            },
            COOP_EDIT_DEFECTS,
        ),
    ),
    "cases.assign": (
        Form(
            "staff",
            "/admin/dossiers/{bounced}/assigner",
            {"version": "{version}", "assignee": "moi", "comment": ""},
            ASSIGN_DEFECTS,
            prefix="assign-",
            version_of="bounced",
        ),
    ),
    "cases.add_task": (
        Form(
            "staff",
            "/admin/dossiers/{bounced}/taches",
            {"title": "Rappeler l'école", "due": "2026-09-30", "note": ""},
            TASK_DEFECTS,
            prefix="task-",
        ),
    ),
    "tasks.close": (
        Form(
            "staff",
            "/admin/taches/{task}/terminer",
            {"comment": "Fait."},
            tuple(
                Defect(d.name, d.values, d.says, status=200, follow=True) for d in comment_defects()
            ),
            prefix="close-",
        ),
        Form(
            "staff",
            "/admin/taches/{value}/terminer",
            {"comment": "Fait."},
            (NOT_FOUND,),
            prefix="close-",
        ),
    ),
    "tasks.take": (Form("staff", "/admin/taches/{value}/prendre", {}, (NOT_FOUND,)),),
    "bulk.create": (
        Form(
            "staff",
            "/admin/actions-groupees/creer",
            {
                "action": "assign",
                "assignee": "moi",
                "comment": "Relance groupée",
                "portee": "selection",
                "case_id": ["{case}"],
                "retour": "/admin/dossiers/",
            },
            BULK_DEFECTS,
        ),
    ),
    "bulk.confirm": (Form("staff", "/admin/actions-groupees/{value}/confirmer", {}, (NOT_FOUND,)),),
    "bulk.abandon": (
        Form("staff", "/admin/actions-groupees/{value}/abandonner", {}, (NOT_FOUND,)),
    ),
    "import.index": (
        Form("staff", "/admin/importer/", {"ad_id": "{ad_id}", "file": _csv_file}, IMPORT_DEFECTS),
    ),
    "import.confirm": (
        Form("staff", "/admin/importer/confirmer", {"payload": "x"}, CONFIRM_IMPORT_DEFECTS),
    ),
    **{
        f"{view}.{endpoint}": (Form("staff", f"/admin/{url}/{route}", {}, CLOSED),)
        for view, url in (("coops", "cooperatives"), ("emails", "emails"))
        for endpoint, route in (
            ("create_view", "new/"),
            ("edit_view", "edit/"),
            ("delete_view", "delete/"),
            ("action_view", "action/"),
            ("ajax_update", "ajax/update/"),
        )
    },
}
#: State-changing routes that read nothing a user types.
NO_INPUT = frozenset(
    {"auth.logout", "admin.logout", "swan_sandbox.act", "swan_sandbox_cards.card_act"}
)
from tests.security.form_defects_bank import BANK_FORMS  # noqa: E402 (built on the above)

FORMS.update(BANK_FORMS)
from tests.security.form_defects_affiliation import AFFILIATION_FORMS  # noqa: E402
from tests.security.form_defects_affiliation_staff import (  # noqa: E402
    AFFILIATION_STAFF_FORMS,
)

FORMS.update(AFFILIATION_FORMS)
FORMS.update(AFFILIATION_STAFF_FORMS)
from tests.security.form_defects_prices import PRICE_FORMS  # noqa: E402

FORMS.update(PRICE_FORMS)
from tests.security.form_defects_transfer_staff import TRANSFER_STAFF_FORMS  # noqa: E402

FORMS.update(TRANSFER_STAFF_FORMS)
from tests.security.form_defects_transfer_portal import TRANSFER_PORTAL_FORMS  # noqa: E402

FORMS.update(TRANSFER_PORTAL_FORMS)
from tests.security.form_defects_card_portal import CARD_PORTAL_FORMS  # noqa: E402

FORMS.update(CARD_PORTAL_FORMS)
from tests.security.form_defects_card_staff import CARD_STAFF_FORMS  # noqa: E402

FORMS.update(CARD_STAFF_FORMS)
