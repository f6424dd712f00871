"""French typography in what people read: a non-breaking space before « : ; ! ? » and
inside « », in the pages of the portal and of the back-office, in the emails and in the
PDFs; and French wording where a name is put in a sentence (« la plateforme de l'OCCE
06 », never « de OCCE 06 », « la coopérative Coopérative … » or the code name).

Each page, email and PDF is read as a reader reads it (its text, not its tags nor what
its forms send back), and a normal space before those signs fails, naming the place."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup
from pypdf import PdfReader
from sqlalchemy import select

from tests import factories
from tests.helpers import csrf_token
from tests.transfer_helpers import advance_at, banking_done, eligible
from tests.web.conftest import log_in_mandataire, log_in_staff, make_coop, settle  # noqa: F401
from workers.email_messages import compose, template_names
from workers.steps.paper import Amount
from workers.templating import TEMPLATES
from workflows.engine.engine import Actor
from workflows.mandataires import latest_with_account
from workflows.models import Document, Email
from workflows.processes import DEFINITIONS
from workflows.typography import FrenchTypography, de, la_cooperative

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: A normal space (or none of the non-breaking kind) where French wants one that holds.
BREAKABLE = re.compile(r"(?<=\S) [:;!?»]|« (?=\S)")
#: Wording that must not come back: an article missing before the AD, the coop's name
#: saying « coopérative » twice, the code name.
WRONG_WORDING = re.compile(r"plateforme de OCCE|la coopérative coop|coopflow", re.I)
#: What the mandataire reads speaks to them (staff's pages say « par le mandataire »).
TO_THE_MANDATAIRE = re.compile(f"{WRONG_WORDING.pattern}|par le mandataire", re.I)
VERBATIM = {"pre", "textarea", "style", "script"}


class _ReadText(HTMLParser):
    """The text of an HTML page as a reader reads it: no tags, no attribute values, none
    of what ``<pre>``, ``<textarea>``, ``<style>`` or ``<script>`` hold."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.verbatim = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.verbatim += tag in VERBATIM

    def handle_endtag(self, tag: str) -> None:
        if tag in VERBATIM and self.verbatim:
            self.verbatim -= 1

    def handle_data(self, data: str) -> None:
        if not self.verbatim:
            self.parts.append(data)


def read(html: str) -> str:
    parser = _ReadText()
    parser.feed(html)
    parser.close()
    # As a browser shows it: runs of white space are one (breakable) space.
    return re.sub(r"[ \t\r\n]+", " ", "".join(parser.parts))


def breakable_spaces(text: str) -> list[str]:
    """Each place with a normal space before « : ; ! ? » or inside « », in context."""
    return [text[max(0, m.start() - 40) : m.end() + 20] for m in BREAKABLE.finditer(text)]


def assert_french(where: str, text: str, wrong: re.Pattern[str] = TO_THE_MANDATAIRE) -> None:
    assert not breakable_spaces(text), (where, breakable_spaces(text))
    # Addresses are no wording: the test server's, a Message-ID's domain.
    text = re.sub(r"https?://\S+|\S+@\S+", "", text)
    assert not wrong.search(text), (where, wrong.search(text))


# --- The rule, on templates written with ordinary spaces ------------------------------


def _env(**templates: str) -> Environment:
    return Environment(
        loader=DictLoader(templates),
        extensions=[FrenchTypography],
        autoescape=select_autoescape(["html"]),
    )


def test_text_gets_its_spaces_and_what_a_form_sends_back_keeps_its_own():
    env = _env(
        page_html=(
            '<p title="Bonjour : toi">Bonjour {{ name }} ! Votre message : « {{ message }} »</p>'
            '<input name="q" value="{{ message }}"><textarea>{{ message }}</textarea>'
            "<pre>{{ message }}</pre><style>a : b {}</style>{{ widget }}"
        ),
    )
    html = env.get_template("page_html").render(
        name="Éloïse", message="Pourquoi ? Parce que : voilà", widget=Markup("<b>x : y</b>")
    )
    nbsp = "\u00a0"
    said = (
        f"Bonjour Éloïse{nbsp}! Votre message{nbsp}: «{nbsp}Pourquoi{nbsp}? Parce que{nbsp}: voilà"
    )
    assert said + f"{nbsp}»" in html
    assert 'title="Bonjour : toi"' in html  # inside a tag
    assert 'value="Pourquoi ? Parce que : voilà"' in html  # what the form sends back
    assert "<textarea>Pourquoi ? Parce que : voilà</textarea>" in html
    assert "<pre>Pourquoi ? Parce que : voilà</pre>" in html and "a : b {}" in html
    assert "<b>x : y</b>" in html  # markup is someone else's: left as it is


def test_a_text_email_is_text_throughout():
    env = Environment(loader=DictLoader({"mail.txt": "Lien : <{{ link }}> ; {{ note }}"}))
    env.add_extension(FrenchTypography)
    assert env.get_template("mail.txt").render(link="https://x/y?z=1", note="a ?") == (
        "Lien\u00a0: <https://x/y?z=1>\u00a0; a\u00a0?"
    )


def test_names_in_sentences():
    assert de("OCCE 06") == "de l'OCCE 06"
    assert de("Association départementale") == "de l'Association départementale"
    assert de("Paris") == "de Paris"
    assert la_cooperative("Les Mimosas") == "la coopérative Les Mimosas"
    assert la_cooperative("Coopérative du Port") == "la Coopérative du Port"
    assert la_cooperative("Coop Pastorelli") == "la Coop Pastorelli"
    assert la_cooperative("Coopération <x>", strong=True) == (
        "la coopérative <strong>Coopération &lt;x&gt;</strong>"
    )


# --- Emails and PDFs ---------------------------------------------------------------------


def _email_kinds() -> list[tuple[str, str | None]]:
    """Every email with its templates: (kind, process), from the templates' folder."""
    kinds = []
    for text in sorted((TEMPLATES / "emails").rglob("*.txt")):
        if text.name.startswith("_"):
            continue
        folder = text.parent.relative_to(TEMPLATES / "emails")
        kinds.append((text.stem, None if str(folder) == "." else str(folder)))
    return kinds


#: What the emails of a process read besides the coop and the mandataire, as their step
#: gives it (workers/steps/<process>.py).
_REQUEST = {
    "project": "Classe de découverte à Saint-Martin-Vésubie",
    "project_day": "15/03/2027",
    "pays_for": "Acompte du séjour",
    "supplier": "PEP 06 Séjours",
    "amount": Amount(80000),
    "declared": Amount(180000),
    "requested_by": "Éloïse Martin",
}
EXAMPLES: dict[str | None, dict[str, Any]] = {
    "banque_postale_transfer": {
        "received": Amount(179950),
        "declared": Amount(180000),
        "received_on": "02/11/2026",
        "statements": ["Tous les chèques émis ont été débités."],
    },
    "emergency_advance": {
        "request": _REQUEST,
        "reason": "Ce n'est pas un séjour : demandez un délai au prestataire.",
        "reviewer_name": "Denis Olivier",
        "supplier_iban": "FR76 **** **** **** **** ***0 129",
        "requested_at": datetime(2026, 10, 1, 8, 30, tzinfo=UTC),
        "by_transfer": True,
        "repaid_on": "02/11/2026",
        "disbursed_on": "02/10/2026",
        "reference": "AV-12",
    },
    "card_order": {
        "card": {
            "tracking_number": "6A12345678901",
            "delivery_day": "12/11/2026",
            "consent_url": "https://sandbox.swan.io/consent/abc",
        },
        "address": {"lines": ["4 avenue Thiers", "06000 Nice"], "at_school": True},
        "again": None,
        "received_on": "20/11/2026",
        "reason": "Livrez-la à l'école : la mairie y reçoit le courrier l'été.",
        "consent": True,
    },
}


@sqlite_only
@pytest.mark.parametrize("kind,process", _email_kinds())
def test_every_email_is_in_french_typography(factory_session, kind, process):
    ad = factories.ADFactory(code="AD06", name="OCCE 06", academic_domains=["ac-nice.fr"])
    coop = factories.CoopFactory(ad=ad, name="Coopérative du Port")
    person = factories.MandataireFactory(coop=coop, email="eloise.martin@ac-nice.fr")
    _text, html_name = template_names(kind, process)
    assert (TEMPLATES / "emails" / html_name).exists()
    email = compose(
        kind,
        person.email,
        f"Compte sur {ad.name} : « un sujet » ?",
        process=process,
        mandataire=person,
        coop=coop,
        ad=ad,
        link="https://coopflow.test/invitation/abc",
        expires_at=datetime(2026, 9, 14, 7, 30, tzinfo=UTC),
        title="Vérification de l'espace",
        action="Vérifier mon espace",
        **EXAMPLES.get(process, {}),
    )
    assert_french(f"{kind}: subject", email.subject)
    assert_french(f"{kind}: text", re.sub(r"[ \t]+", " ", email.text))
    assert_french(f"{kind}: html", read(email.html))
    for body in (email.text, read(email.html)):
        assert "la Coopérative du Port" in " ".join(body.split()), kind
    if kind == "invitation":
        assert "sur la plateforme de l'OCCE 06 pour la Coopérative du Port" in email.text


@sqlite_only
def test_the_space_summary_pdf_is_in_french_typography(runtime, make_coop):  # noqa: F811
    coop = make_coop("confirmed")
    with runtime.db.read() as session:
        document = session.scalars(select(Document).where(Document.coop_id == coop.coop_id)).one()
        pdf = document.content
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s*\n\s*", " ", text)
    assert_french("space_summary.pdf", flat)
    assert "établi automatiquement par la plateforme de l'OCCE 06" in flat


# --- Pages ---------------------------------------------------------------------------------


def _scan(client: Any, paths: list[str]) -> None:
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 404, 410), (path, response.status_code)
        wrong = WRONG_WORDING if path.startswith("/admin") else TO_THE_MANDATAIRE
        assert_french(path, read(response.get_data(as_text=True)), wrong)


@sqlite_only
def test_the_portals_pages_are_in_french_typography(app, runtime, make_coop):  # noqa: F811
    anonymous = app.test_client()
    _scan(anonymous, ["/connexion", "/mot-de-passe-perdu", "/mot-de-passe-perdu/pas-un-lien"])
    _scan(anonymous, ["/invitation/pas-un-lien", "/page-qui-n-existe-pas"])
    for stage in ("active", "problem_reported", "confirmed"):
        coop = make_coop(stage)
        client = app.test_client()
        log_in_mandataire(app, client, coop.mandataire_id)
        _scan(client, ["/mon-espace", "/mon-espace/verification", "/mon-espace/documents"])
    # A refused form and a flash message, composed in Python.
    coop = make_coop("active")
    client = app.test_client()
    log_in_mandataire(app, client, coop.mandataire_id)
    page = client.get("/mon-espace/verification").get_data(as_text=True)
    refused = client.post(
        "/mon-espace/verification/coordonnees",
        data={"csrf_token": csrf_token(page), "postal_code": "123", "phone": "x"},
    )
    assert refused.status_code == 422
    assert_french("coordonnées refusées", read(refused.get_data(as_text=True)))
    home = "/mon-espace"
    assert "À vérifier par vous" in read(client.get(home).get_data(as_text=True))


@sqlite_only
def test_the_transfer_and_advance_pages_are_in_french_typography(app, runtime, ad):
    """« Solde Banque Postale » and « Avance d'urgence » at each stage a mandataire meets."""
    engine = runtime.engine
    paths = ["/mon-espace", "/mon-espace/solde-banque-postale", "/mon-espace/avance"]
    waiting = banking_done(engine, ad)  # the attestation to fill, no advance possible
    refused = advance_at(engine, ad, "rejected")
    signing = advance_at(engine, ad, "approved")  # the contract rendered by the worker
    settle(runtime)
    for person_id in (waiting.id, eligible(engine, ad).id):
        client = app.test_client()
        log_in_mandataire(app, client, person_id)
        _scan(client, paths)
    for case in (refused, signing):
        with runtime.db.read() as session:
            person = latest_with_account(session, case.coop_id)
            assert person is not None
        client = app.test_client()
        log_in_mandataire(app, client, person.id)
        _scan(client, [*paths, "/mon-espace/documents"])


@sqlite_only
def test_the_back_offices_pages_are_in_french_typography(app, runtime, ad, make_coop):  # noqa: F811
    coop = make_coop("problem_reported")
    staff = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    client = app.test_client()
    _scan(client, ["/admin/connexion"])
    log_in_staff(client, staff.id)
    with runtime.engine.transaction() as tx:
        case = tx.lock(coop.space_id)
        tx.record(case, Actor.staff(staff), comment="Vu avec l'école : adresse ?", kind="comment")
    email_id = None
    with runtime.db.read() as session:
        email_id = session.scalars(select(Email.id).limit(1)).first()
    paths = [
        "/admin/",
        "/admin/dossiers/",
        "/admin/dossiers/?q=introuvable",
        f"/admin/dossiers/{coop.space_id}",
        f"/admin/dossiers/{coop.invitation_id}",
        "/admin/taches/",
        "/admin/emails/",
        "/admin/cooperatives/",
        f"/admin/cooperatives/{coop.coop_id}",
        "/admin/importer/",
        "/admin/tableau-de-bord/",
        "/admin/actions-groupees/",
        "/admin/processus/",
        "/admin/dossiers/999999",
        # Every process's diagram, its labels and delays included.
        *(f"/admin/processus/{name}" for name in DEFINITIONS),
    ]
    if email_id is not None:
        paths.append(f"/admin/emails/{email_id}")
    _scan(client, paths)

    # The import's preview (its refused lines) and its report.
    page = client.get("/admin/importer/").get_data(as_text=True)
    content = (
        "numero_affiliation;nom_cooperative;ecole;email_ecole;prenom_mandataire;"
        "nom_mandataire;email_mandataire\n0060104D;Coop ?;École;ce.x@ac-nice.fr;A;B;"
        "a.b@gmail.com\n0060105E;Les Pins;École des Pins;ce.y@ac-nice.fr;C;D;c.d@ac-nice.fr\n"
    ).encode()
    preview = client.post(
        "/admin/importer/",
        data={
            "csrf_token": csrf_token(page),
            "ad_id": str(ad.id),
            "file": (io.BytesIO(content), "coops.csv", "text/csv"),
        },
        content_type="multipart/form-data",
    )
    shown = preview.get_data(as_text=True)
    assert_french("aperçu de l'import", read(shown), WRONG_WORDING)
    payload = re.search(r'name="payload" type="hidden" value="([^"]+)"', shown)
    assert payload
    done = client.post(
        "/admin/importer/confirmer", data={"csrf_token": csrf_token(shown), "payload": payload[1]}
    )
    assert_french("rapport de l'import", read(done.get_data(as_text=True)), WRONG_WORDING)
