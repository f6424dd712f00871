"""What the bad-input properties share: hypothesis settings, the values they draw, and
how they read the errors a page shows (and tell a French message from any other)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.security.conftest import database_rows
from tests.web.conftest import settle
from web.guards import MAX_ID


def bad_input(max_examples: int) -> settings:
    """Reproducible runs (CI, a colleague's laptop); the examples share the test's world."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        # The examples share one database: after a first bug that wrote, the next ones
        # would only be its echoes.
        report_multiple_bugs=False,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def check_nothing_written(runtime: Any, before: dict[str, Any]) -> None:
    settle(runtime)
    assert database_rows(runtime) == before, "une saisie refusée a écrit quelque chose"


# --- values --------------------------------------------------------------------------

#: Every code point a form can carry (surrogates cannot travel in UTF-8).
ANY_CHAR = st.characters(exclude_categories=("Cs",))
#: What ``str.strip`` removes: blank to WTForms and to the views.
BLANK = st.text(
    st.sampled_from(" \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2003\u2028\u202f\u3000"),
    max_size=6,
)
#: Printable oddities: accents, combining marks, right-to-left scripts, emoji, CJK.
ODD_WORD = st.text(st.characters(categories=("L", "M", "N", "P", "S")), min_size=1, max_size=12)
#: Digits other than 0-9: ``\d`` and ``str.isdigit`` take them, a postal code may not.
FOREIGN_DIGITS = st.sampled_from(
    [
        "０１２３４５６７８９",  # full width
        "٠١٢٣٤٥٦٧٨٩",  # Arabic-Indic
        "०१२३४५६७८९",  # Devanagari
        "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",  # mathematical bold
        "⁰¹²³⁴⁵⁶⁷⁸⁹",  # superscripts: ``isdigit`` says yes, ``int`` says no
    ]
)
#: An id no row has, within what the id columns store (``INTEGER``), edges included.
NO_SUCH_ID = st.integers(min_value=10_000, max_value=MAX_ID) | st.just(MAX_ID)
#: An "id" no id column can hold: past 32 bits (PostgreSQL's ``INTEGER``), past 64 bits.
HUGE_NUMBER = (
    st.integers(min_value=MAX_ID + 1, max_value=10**40)
    | st.sampled_from([MAX_ID + 1, 2**63 - 1, 2**63])
).map(str)


def in_digits(number: str, digits: str) -> str:
    """``number`` written with other digits (``digits[0]`` for 0, and so on)."""
    return "".join(digits[int(c)] if c in "0123456789" else c for c in number)


def not_an_integer(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return True
    return False


def too_long(limit: int) -> st.SearchStrategy[str]:
    """Longer than ``limit``, even stripped and with its spaces collapsed."""
    return st.tuples(ODD_WORD, st.integers(1, 40)).map(
        lambda t: (t[0] * (limit // len(t[0]) + 1))[:limit] + "é" * t[1]
    )


def valid_email(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


MALFORMED_EMAILS = st.one_of(
    st.text(ANY_CHAR, min_size=1, max_size=30).filter(lambda s: "@" not in s),
    st.builds("{}@{}".format, st.text(ANY_CHAR, max_size=12), st.text(ANY_CHAR, max_size=12)),
    st.builds("{0}@{0}@ac-nice.fr".format, ODD_WORD),
    st.builds("{} {}@ac-nice.fr".format, ODD_WORD, ODD_WORD),
    st.builds("{}..{}@ac-nice.fr".format, ODD_WORD, ODD_WORD),
    st.sampled_from(["prenom.nom@ac-nice", "prenom@-ac.fr", "prenom@ac_nice.fr", "@ac-nice.fr"]),
    st.integers(65, 80).map(lambda n: "a" * n + "@ac-nice.fr"),
).filter(lambda s: bool(s.strip()) and not valid_email(s))
#: Longer than the 254 characters an address may have.
LONG_EMAILS = st.one_of(
    st.integers(5, 6).map(lambda n: "prenom@" + ("a" * 60 + ".") * n + "fr"),
    st.integers(244, 300).map(lambda n: "a" * n + "@ac-nice.fr"),
)
WELL_FORMED_UNKNOWN = st.from_regex(r"[a-z]{2,10}\.[a-z]{2,10}@ac-[a-z]{2,8}\.fr", fullmatch=True)


# --- what the user reads --------------------------------------------------------------

_ERROR_CLASSES = frozenset({"error", "errors", "invalid-feedback", "alert-danger"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})
_ERROR_PAGE = re.compile(r"<h1>Erreur (\d{3})</h1>\s*<p>(.*?)</p>", re.S)
_LETTER = re.compile(r"[^\W\d_]")


class _ErrorText(HTMLParser):
    """The text of every element the templates style as an error: ``p.error``,
    ``div.errors``, ``.alert-danger`` (flashed errors), and ``.invalid-feedback`` where
    Bootstrap shows it (``d-block``, or after an ``is-invalid`` field)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._opened: list[bool] = []
        self._text: list[str] | None = None
        self._field_invalid = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag in ("input", "select", "textarea"):
            self._field_invalid = "is-invalid" in classes
        if tag in _VOID:
            return
        if "invalid-feedback" in classes and not ({"d-block"} & classes or self._field_invalid):
            classes.discard("invalid-feedback")  # display: none
        if "stuck" in classes:  # the case page's « Dossier bloqué » banner: a state
            classes.discard("alert-danger")
        opening = self._text is None and bool(classes & _ERROR_CLASSES)
        self._opened.append(opening)
        if opening:
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or not self._opened:
            return
        if self._opened.pop() and self._text is not None:
            self.found.append(norm("".join(self._text)))
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def norm(text: str) -> str:
    """Spaces as a reader sees them: a run of (unicode) whitespace is one space."""
    return " ".join(text.split())


def errors_shown(response: Any) -> list[str]:
    """The error messages of the page, error pages' own included."""
    page = response.get_data(as_text=True)
    parser = _ErrorText()
    parser.feed(page)
    parser.close()
    pages = [norm(html.unescape(m.group(2))) for m in _ERROR_PAGE.finditer(page)]
    return parser.found + pages


def _exact(*messages: str) -> list[str]:
    return [re.escape(m) for m in messages]


#: Every error message the forms may show, in French. Whatever a page shows as an error
#: and is not matched here (WTForms' English defaults, a raw exception) fails.
KNOWN_MESSAGES = [
    re.compile(p, re.S)
    for p in [
        # Error pages (web/__init__.py)
        *_exact(
            "La demande n'a pas pu être traitée (formulaire expiré ? rechargez la page).",
            "La demande n'a pas pu être traitée : rechargez la page puis réessayez.",
            "Vous n'avez pas accès à cette page.",
            "Cette page n'existe pas.",
            "Ce dossier a changé entre-temps.",
            "Le fichier envoyé est trop volumineux.",
            "La demande contient un caractère invalide (caractère nul) : rien n'a été enregistré.",
        ),
        # Logins, passwords
        *_exact(
            "Saisissez votre adresse email.",
            "Cette adresse email n'est pas valide.",
            "Adresse email trop longue (254 caractères au plus).",
            "Saisissez votre mot de passe.",
            "Adresse email ou mot de passe incorrect.",
            "Votre compte n'est pas encore configuré : ouvrez le lien reçu par email "
            "pour choisir votre mot de passe.",
            "Saisissez un mot de passe.",
            "Confirmez votre mot de passe.",
            "Les deux mots de passe ne sont pas identiques.",
            "Votre mot de passe ne respecte pas les règles suivantes :",
            "Le mot de passe ne doit pas dépasser 128 caractères.",
            "Le mot de passe doit contenir au moins un chiffre.",
            "Le mot de passe doit contenir au moins un caractère spécial parmi "
            "* ! ? # ; % $ ^ . \\ / € £",
            "Le mot de passe ne doit pas contenir votre prénom.",
            "Le mot de passe ne doit pas contenir votre nom.",
            "Le mot de passe ne doit pas contenir votre adresse email.",
        ),
        r"Le mot de passe doit contenir au moins \d+ caractères\.",
        r"Le mot de passe doit contenir au moins (une lettre minuscule et une lettre "
        r"majuscule|une lettre minuscule|une lettre majuscule)\.",
        # « Vérification de l'espace »
        *_exact(
            "Rien n'a été enregistré : corrigez le champ signalé ci-dessous.",
            "Rien n'a été enregistré : corrigez les champs signalés ci-dessous.",
            "Indiquez le numéro et la rue (ou effacez aussi la commune).",
            "Indiquez le code postal.",
            "Indiquez la commune.",
            "Adresse trop longue (300 caractères au plus).",
            "Nom de commune trop long (100 caractères au plus).",
            "Numéro de téléphone invalide : 10 chiffres commençant par 0 attendus, "
            "par exemple 02 33 57 46 61.",
            "Le fichier envoyé est vide.",
            "Ce fichier n'est pas une image PNG ou JPEG (son contenu a été vérifié, pas "
            "seulement son nom). Choisissez une image PNG ou JPEG.",
            "Décrivez le problème constaté : votre message est vide.",
            "Votre message est trop long (2000 caractères au plus).",
            "Ce formulaire est incomplet : rechargez la page et recommencez.",
            "Les informations de votre espace ont changé depuis l'affichage de cette page. "
            "Vérifiez-les à nouveau ci-dessous avant de confirmer.",
        ),
        r"Code postal «.*?» invalide : 5 chiffres attendus, par exemple 50000\.",
        # The case page, tasks (admin/forms.py, admin/case_actions.py, the engine)
        *_exact(
            "Ce dossier vient d'être modifié par quelqu'un d'autre. "
            "Rechargez la page pour voir son état actuel.",
            "Indiquez un commentaire : il est enregistré dans l'historique du dossier.",
            "Commentaire trop long (2000 caractères au plus).",
            "Version du dossier manquante.",
            "Version du dossier illisible : rechargez la page.",
            "Saisissez la nouvelle adresse email.",
            "C'est l'adresse qui a été refusée : saisissez l'adresse corrigée.",
            "Cette adresse est déjà celle d'un autre mandataire.",
            "Choisissez un membre de l'équipe dans la liste.",
            "Ce membre de l'équipe ne peut pas traiter ce dossier.",
            "Le commentaire est vide.",
            "Indiquez ce qu'il faut faire.",
            "Titre trop long (300 caractères au plus).",
            "Précisions trop longues (2000 caractères au plus).",
            "Indiquez une échéance valide (jj/mm/aaaa).",
            "Date invalide : utilisez le format jj/mm/aaaa.",
            "L'échéance doit être dans le futur.",
            "Étape introuvable.",
            "Cette action n'est pas possible sur ce dossier dans son état actuel : "
            "rechargez la page.",
            "Seule une étape en échec peut être relancée.",
        ),
        r"L'adresse «.*?» n'est pas valide\.",
        r"L'adresse doit être sur un domaine académique de l'AD \(.*?\)\.",
        r"Le dossier est déjà assigné à .*?\.",
        r"Action «.*?» impossible : le dossier est à l'état «.*?»\.",
        r"Action «.*?» non autorisée pour vous \(dossier à l'état «.*?»\)\.",
        # « Actions groupées »
        *_exact(
            "Rien n'a été fait :",
            "Choisissez une action.",
            "Indiquez un commentaire : il est enregistré dans l'historique des dossiers.",
            "Commentaire trop long (2 000 caractères au plus).",
            "Choisissez « Appliquer aux dossiers cochés » ou « Appliquer à tout le filtre ».",
            "Sélection invalide : rechargez la liste.",
            "Aucun dossier coché : cochez au moins un dossier.",
            "Aucun dossier ne correspond à ce filtre.",
            "Choisissez à qui assigner les dossiers.",
            "Choisissez un membre de l'équipe qui peut traiter ces dossiers.",
        ),
        r"Action inconnue : «.*?»\.",
        r"Dossiers introuvables ou hors de votre périmètre : n° .*?\. "
        r"Aucune action n'a été lancée\.",
        # « Importer des coopératives »
        *_exact(
            "Choisissez le fichier CSV à importer.",
            "Choisissez une AD de la liste.",
            "Le fichier doit être au format CSV (.csv) : dans votre tableur, choisissez "
            "« Enregistrer sous » puis le format « CSV UTF-8 ».",
            "Aperçu manquant : recommencez l'import.",
            "Fichier refusé, rien ne sera importé :",
        ),
        r"Ce type de fichier \(.*?\) n'est pas un CSV\.",
        # « Modifier la coopérative » (workflows/coop_edit.py, the import's checks)
        r"(Nom de la coopérative|Nom de l'école|Email de l'école|Prénom du mandataire|"
        r"Nom du mandataire|Email du mandataire) manquant\.",
        r"(Nom de la coopérative|Nom de l'école|Email de l'école|Prénom du mandataire|"
        r"Nom du mandataire|Email du mandataire) trop long \(\d+ caractères au plus\)\.",
        r"(Adresse|Commune) trop longue \(\d+ caractères au plus\)\.",
        r"Code postal «.*?» invalide \(5 chiffres attendus.*?\)\.",
        r"(Email de l'école|Email du mandataire) «.*?» invalide\.",
        r"L'email du mandataire doit être sur un domaine académique de l'AD\d+ \(.*?\)\.",
        *_exact(
            "La coopérative vient d'être modifiée par quelqu'un d'autre : rechargez la page "
            "pour voir ses données actuelles, puis refaites votre correction.",
            "Cette tâche n'est plus à faire : rechargez la page.",
            "Aucune modification : les valeurs saisies sont celles déjà enregistrées.",
        ),
    ]
]


def unknown_words(error: str, known: Iterable[re.Pattern[str]] = KNOWN_MESSAGES) -> str:
    """What is left of a shown error once every known French message is taken out."""
    for pattern in known:
        error = pattern.sub(" ", error)
    return error


def assert_french(error: str, known: Iterable[re.Pattern[str]] = KNOWN_MESSAGES) -> None:
    left = unknown_words(error, known)
    assert not _LETTER.search(left), f"message inconnu (non traduit ?) : {left!r}"


def assert_refused(response: Any, expected: Iterable[str], status: int) -> None:
    """What the user gets: ``status``, each ``expected`` message shown where the templates
    show errors, and nothing there the app does not know (English, a raw exception)."""
    shown = errors_shown(response)
    assert response.status_code == status, (response.status_code, shown)
    for message in expected:
        wanted = norm(message)
        assert any(wanted in error for error in shown), f"« {wanted} » absent de {shown}"
    for error in shown:
        assert_french(error)
