"""The coop's page in the back-office, ``/admin/cooperatives/<id>``: its cases, tasks,
documents and emails, the picture of its processes and their dependencies, its scope;
and the case page saying which prerequisites the coop does not meet."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from coopflow.app import create_app
from coopflow.runtime import Runtime, build_runtime
from tests import factories
from tests.admin.conftest import log_in, text
from tests.definitions import make_definition
from tests.helpers import case_of, invitation_case, invitation_email, manual_task, space_summary
from workflows.engine.cross_process import Effect, Prerequisite
from workflows.engine.definition import STAFF, SYSTEM
from workflows.engine.definition import Transition as T
from workflows.engine.engine import Actor
from workflows.models import AD, Case, Document, Email, Task
from workflows.processes import DEFINITIONS
from workflows.processes.space_check.coop_details import space_case

SYSTEM_ACTOR = Actor.system("test")
BY_STAFF = frozenset({STAFF, SYSTEM})


@dataclass
class CoopCases:
    coop_id: int
    name: str
    affiliation_number: str
    mandataire: Any
    invitation_id: int
    space_id: int | None


def _coop(rt: Runtime, ad: AD, stage: str = "active", *, name: str | None = None) -> CoopCases:
    """A coop of ``ad`` whose invitation is ``invited``, ``expired`` or ``active`` (then
    its space check has started by itself, ``to_check``)."""
    coop = factories.CoopFactory(ad=ad, **({"name": name} if name else {}))
    person = factories.MandataireFactory(
        coop=coop,
        email=f"mandataire.{coop.id}@{ad.academic_domains[0]}",
        first_name="Hélène",
        last_name="Péraud",
    )
    then = {"expired": ("expire",), "active": ("set_password", "first_login")}.get(stage, ())
    with rt.engine.transaction() as tx:
        invitation_id = invitation_case(tx, person, "invite", "sent", *then, trigger=None).id
    with rt.db.read() as session:
        found = space_case(session, coop.id)
        space_id = found.id if found else None
    return CoopCases(coop.id, coop.name, coop.affiliation_number, person, invitation_id, space_id)


def _svg(page: str) -> ET.Element:
    """The picture of the coop's processes, parsed."""
    match = re.search(r'<svg\b[^>]*class="process-diagram coop-diagram".*?</svg>', page, re.S)
    assert match, "no picture of the coop's processes"
    return ET.fromstring(match.group(0))


def _words(element: ET.Element) -> str:
    return " ".join(" ".join(t.text or "" for t in element.iter("text")).split())


def _nodes(root: ET.Element) -> dict[str, ET.Element]:
    marker = "coop-process-"
    return {
        g.get("id", "")[len(marker) :]: g
        for g in root.iter("g")
        if g.get("id", "").startswith(marker)
    }


def _classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def _arrows(root: ET.Element, kind: str) -> dict[tuple[str, str], ET.Element]:
    """The arrows of ``kind`` (prerequisite, effect) by (from process, to process)."""
    out = {}
    for g in root.iter("g"):
        classes = _classes(g)
        if "edge" in classes and kind in classes:
            source = next(c[5:] for c in classes if c.startswith("from-"))
            dest = next(c[3:] for c in classes if c.startswith("to-"))
            out[(source, dest)] = g
    return out


def _plain(markup: str) -> str:
    """What a reader sees of ``markup`` (raw HTML): its words, without the tags."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _section(page: str, selector: str) -> str:
    """The text of the table of class ``selector`` (empty when absent)."""
    match = re.search(rf'<table class="[^"]*\b{selector}\b.*?</table>', page, re.S)
    return _plain(match.group(0)) if match else ""


def test_the_page_shows_every_case_task_document_and_email_of_the_coop(
    client, rt, ad, staff06, clock
):
    coop = _coop(rt, ad, name="Coopérative des Pins")
    other = _coop(rt, ad, "expired", name="Coopérative des Chênes")
    with rt.engine.transaction() as tx:
        open_task = manual_task(
            tx, tx.lock(coop.space_id), "Appeler l'école au sujet du compte", days=3
        )
        done = manual_task(
            tx, tx.lock(coop.invitation_id), "Vérifier l'adresse du mandataire", days=1
        )
        tx.close_task(tx.lock(coop.invitation_id), done, SYSTEM_ACTOR, "Adresse vérifiée")
        tx.session.add_all(
            [
                *(
                    invitation_email(
                        f"page-{of.invitation_id}",
                        of.invitation_id,
                        of.coop_id,
                        of.mandataire.email,
                        subject=subject,
                        status="sent",
                    )
                    for of, subject in (
                        (coop, "Votre espace coopérative vous attend"),
                        (other, "Invitation des Chênes"),
                    )
                ),
                space_summary(
                    f"page-doc-{coop.space_id}",
                    coop.space_id,
                    coop.coop_id,
                    title="Récapitulatif de l'espace",
                    filename="recapitulatif-espace.pdf",
                    content=b"%PDF-1.4 recapitulatif",
                ),
            ]
        )
        tx.session.flush()
        open_task_id = open_task.id
    with rt.db.read() as session:
        email_id = session.query(Email.id).filter(Email.case_id == coop.invitation_id).scalar()
        document_id = session.query(Document.id).filter(Document.coop_id == coop.coop_id).scalar()

    log_in(client, staff06)
    response = client.get(f"/admin/cooperatives/{coop.coop_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    assert heading and _plain(heading.group(1)) == (
        f"Coopérative des Pins n° {coop.affiliation_number} AD06"
    )
    assert f"Hélène Péraud <{coop.mandataire.email}>" in _plain(page)

    # Every case, with its process and state in French, each a link to its page.
    cases = _section(page, "coop-cases")
    assert "Invitation et mot de passe" in cases and "Compte actif" in cases
    assert "Vérification de l'espace" in cases and "À vérifier par le mandataire" in cases
    bank = [str(case_of(rt.engine, coop.coop_id, p).id) for p in ("affiliation", "iban", "kyc")]
    assert re.findall(r'data-case-id="(\d+)"', page) == [
        *bank,  # started with the account, after the space check (newest first)
        str(coop.space_id),
        str(coop.invitation_id),
    ]
    assert f'href="/admin/dossiers/{coop.invitation_id}"' in page
    assert f'href="/admin/dossiers/{coop.space_id}"' in page
    assert f"/admin/dossiers/{other.invitation_id}" not in page  # another coop's

    # Tasks: the open one to do, the closed one apart.
    assert "Appeler l'école au sujet du compte" in _section(page, "open-tasks")
    assert "Vérifier l'adresse du mandataire" not in _section(page, "open-tasks")
    closed = _section(page, "closed-tasks")
    assert "Vérifier l'adresse du mandataire" in closed and "faite" in closed
    assert f"/admin/dossiers/{coop.space_id}#taches" in page
    with rt.db.read() as session:
        assert session.get(Task, open_task_id).status == "open"

    # Emails: the coop's, linked to the email's page; not the other coop's.
    emails = _section(page, "coop-emails")
    assert "Votre espace coopérative vous attend" in emails and "envoyé" in emails
    assert f'href="/admin/emails/{email_id}"' in page
    assert "Invitation des Chênes" not in page

    # Documents: listed and downloadable by staff of the AD.
    assert "Récapitulatif de l'espace" in _section(page, "coop-documents")
    url = f"/admin/cooperatives/{coop.coop_id}/documents/{document_id}"
    assert f'href="{url}"' in page
    download = client.get(url)
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 recapitulatif"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "recapitulatif-espace.pdf" in download.headers["Content-Disposition"]
    # A document of the coop, asked for under another coop's address: not found.
    assert (
        client.get(f"/admin/cooperatives/{other.coop_id}/documents/{document_id}").status_code
        == 404
    )
    # The case it belongs to lists it too, with the same download.
    case_page = client.get(f"/admin/dossiers/{coop.space_id}").get_data(as_text=True)
    documents = _section(case_page, "case-documents")
    assert "Récapitulatif de l'espace" in documents and f'href="{url}"' in case_page
    invitation_page = client.get(f"/admin/dossiers/{coop.invitation_id}").get_data(as_text=True)
    assert "case-documents" not in invitation_page and "Aucun document." in invitation_page


def test_the_picture_names_each_process_with_where_the_coop_stands(client, rt, ad, staff06):
    active = _coop(rt, ad)
    expired = _coop(rt, ad, "expired")
    log_in(client, staff06)

    root = _svg(client.get(f"/admin/cooperatives/{active.coop_id}").get_data(as_text=True))
    nodes = _nodes(root)
    assert set(nodes) == set(DEFINITIONS)
    assert _words(nodes["invitation"]) == "Invitation et mot de passe Compte actif"
    assert "done" in _classes(nodes["invitation"])
    assert _words(nodes["space_check"]) == "Vérification de l'espace À vérifier par le mandataire"
    assert "in_progress" in _classes(nodes["space_check"])
    # The space check needs the invitation: an arrow from it, saying which state, met.
    arrows = _arrows(root, "prerequisite")
    assert set(arrows) == {
        *(("invitation", p) for p in ("space_check", "kyc", "iban", "affiliation")),
        ("kyc", "banque_postale_transfer"),
        ("iban", "banque_postale_transfer"),
        *((p, "card_order") for p in ("kyc", "iban", "affiliation")),
    }
    assert _words(arrows[("invitation", "space_check")]) == "« Compte actif »"
    assert "met" in _classes(arrows[("invitation", "space_check")])
    # « la Coopérative de l'école … »: its name already says it; French typography.
    assert root.get("aria-label").replace("\u00a0", " ") == (
        f"Processus de la {active.name} : Invitation et mot de passe : "
        "Compte actif ; Vérification de l'espace : À vérifier par le mandataire ; "
        "Vérification d'identité : Instructions envoyées, vérification non commencée ; "
        "Compte bancaire certifié : En attente du RIB ; "
        "Affiliation de l'année : Adhésion à compléter par le mandataire ; "
        "Reversement du solde Banque Postale : pas commencé ; Carte bancaire de la coopérative : "
        "pas commencé ; Avance d'urgence : pas commencé"
    )
    assert "\u00a0: Invitation" in root.get("aria-label")

    # Before the first login: the invitation is stuck, the space check waits, and why.
    page = client.get(f"/admin/cooperatives/{expired.coop_id}").get_data(as_text=True)
    root = _svg(page)
    nodes = _nodes(root)
    assert "stuck" in _classes(nodes["invitation"])
    assert _words(nodes["invitation"]).startswith("Invitation et mot de passe Lien expiré")
    assert "Bloqué : Invitation expirée" in _words(nodes["invitation"])
    assert "waiting" in _classes(nodes["space_check"])
    assert _words(nodes["space_check"]) == (
        "Vérification de l'espace pas commencé Disponible dès votre première connexion."
    )
    assert "unmet" in _classes(_arrows(root, "prerequisite")[("invitation", "space_check")])
    assert "Invitation expirée" in _section(page, "coop-cases")
    assert "Le mandataire n'a pas utilisé son lien d'invitation à temps." in _plain(page)


def test_the_coop_is_one_click_away_from_the_lists_and_the_case_page(client, rt, ad, staff06):
    coop = _coop(rt, ad, "expired")
    link = f'href="/admin/cooperatives/{coop.coop_id}"'
    log_in(client, staff06)
    for path in ("/admin/", "/admin/dossiers/", "/admin/cooperatives/"):
        assert link in client.get(path).get_data(as_text=True), path
    case_page = client.get(f"/admin/dossiers/{coop.invitation_id}").get_data(as_text=True)
    assert link in case_page
    # The coops' export keeps the plain name.
    exported = client.get("/admin/cooperatives/export/csv/").get_data(as_text=True)
    assert coop.name in exported and "<a " not in exported


def test_another_ads_coop_is_not_found_and_read_only_staff_see_it(
    client, rt, ad, ad50, staff06, readonly06, national
):
    mine = _coop(rt, ad)
    theirs = _coop(rt, ad50)
    with rt.engine.transaction() as tx:
        tx.session.add(space_summary("scope-doc", None, theirs.coop_id, content=b"%PDF secret"))
        tx.session.flush()
    with rt.db.read() as session:
        document_id = session.query(Document.id).filter(Document.coop_id == theirs.coop_id).scalar()

    log_in(client, staff06)
    refused = client.get(f"/admin/cooperatives/{theirs.coop_id}")
    assert refused.status_code == 404
    assert theirs.name not in text(refused)
    download = client.get(f"/admin/cooperatives/{theirs.coop_id}/documents/{document_id}")
    assert download.status_code == 404 and b"secret" not in download.data

    log_in(client, readonly06)
    page = client.get(f"/admin/cooperatives/{mine.coop_id}").get_data(as_text=True)
    assert "Compte actif" in _section(page, "coop-cases")
    assert client.get(f"/admin/cooperatives/{theirs.coop_id}").status_code == 404

    log_in(client, national)
    assert client.get(f"/admin/cooperatives/{theirs.coop_id}").status_code == 200
    assert client.get(f"/admin/cooperatives/{theirs.coop_id}/documents/{document_id}").data == (
        b"%PDF secret"
    )


def test_anonymous_visitors_are_sent_to_the_login(client, rt, ad):
    coop = _coop(rt, ad)
    response = client.get(f"/admin/cooperatives/{coop.coop_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"/admin/connexion?next=/admin/cooperatives/{coop.coop_id}"
    )


def test_a_case_page_says_which_prerequisites_no_longer_hold(client, rt, ad, staff06):
    coop = _coop(rt, ad)
    log_in(client, staff06)
    assert 'id="prerequis"' not in client.get(f"/admin/dossiers/{coop.space_id}").get_data(
        as_text=True
    )
    # A new mandataire's invitation: the coop's latest invitation is no longer active.
    person = factories.MandataireFactory(
        coop_id=coop.coop_id, email=f"nouveau.{coop.coop_id}@{ad.academic_domains[0]}"
    )
    with rt.engine.transaction() as tx:
        tx.start("invitation", coop.coop_id, actor=SYSTEM_ACTOR, data={"mandataire_id": person.id})
    page = client.get(f"/admin/dossiers/{coop.space_id}").get_data(as_text=True)
    banner = re.search(r'id="prerequis".*?</div>', page, re.S)
    assert banner, "no prerequisites banner"
    words = _plain(banner.group(0))
    assert "Prérequis non remplis à ce jour" in words
    assert "Disponible dès votre première connexion." in words
    assert (
        "Invitation et mot de passe : « Compte actif » attendu ; "
        "aujourd'hui « Importée, invitation non envoyée »"
    ) in words


# A process that waits in its first state, and an effect on another ------------------

FOLLOW_UP = make_definition(
    "follow_up",
    "Suivi de rentrée",
    [("open", "Ouvert"), ("closed", "Clos")],
    [T("close", "open", "closed", "Clore le suivi", by=BY_STAFF)],
    checklist_position=4,
)
LETTER = make_definition(
    "letter",
    "Courrier à la banque",
    [
        ("waiting", "En attente des prérequis"),
        ("writing", "Lettre en préparation"),
        ("sent", "Lettre envoyée"),
    ],
    [
        T("start", "waiting", "writing", "Commencer"),
        T("send", "writing", "sent", "Envoyer la lettre", by=BY_STAFF),
    ],
    prerequisites=(
        Prerequisite("invitation", ("active",), "Disponible dès la première connexion."),
        Prerequisite("space_check", ("confirmed",), "Disponible quand l'espace sera vérifié."),
    ),
    start_trigger="start",
    effects=(Effect("sent", "follow_up", "close"),),
    checklist_position=3,
)


@pytest.fixture
def letter_app(settings: Any, clock: Any) -> Iterator[Flask]:
    definitions = {**DEFINITIONS, LETTER.name: LETTER, FOLLOW_UP.name: FOLLOW_UP}
    runtime = build_runtime(settings, clock=clock, definitions=definitions)
    flask_app = create_app(settings, runtime=runtime)
    flask_app.config["TESTING"] = True
    yield flask_app
    runtime.stop()


def test_a_waiting_case_and_the_effects_of_a_process(letter_app: Flask, ad, staff06):
    rt: Runtime = letter_app.extensions["coopflow"]
    client: FlaskClient = letter_app.test_client()
    coop = _coop(rt, ad, "invited")
    with rt.engine.transaction() as tx:
        letter_id = tx.start("letter", coop.coop_id, actor=SYSTEM_ACTOR).id
        tx.start("follow_up", coop.coop_id, actor=SYSTEM_ACTOR)
    log_in(client, staff06)

    page = client.get(f"/admin/dossiers/{letter_id}").get_data(as_text=True)
    banner = re.search(r'id="prerequis".*?</div>', page, re.S)
    assert banner, "no prerequisites banner"
    words = _plain(banner.group(0))
    assert "Ce dossier attend que la coopérative remplisse ses prérequis" in words
    assert (
        "Disponible dès la première connexion. (Invitation et mot de passe : « Compte actif » "
        "attendu ; aujourd'hui « Invitation envoyée, en attente du mot de passe »)"
    ) in words
    assert (
        "Disponible quand l'espace sera vérifié. (Vérification de l'espace : « Espace vérifié » "
        "attendu ; pas commencé)"
    ) in words

    root = _svg(client.get(f"/admin/cooperatives/{coop.coop_id}").get_data(as_text=True))
    nodes = _nodes(root)
    assert set(nodes) == {
        "invitation",
        "space_check",
        "kyc",
        "iban",
        "affiliation",
        "banque_postale_transfer",
        "emergency_advance",
        "card_order",
        "letter",
        "follow_up",
    }
    assert "waiting" in _classes(nodes["letter"])
    assert _words(nodes["letter"]) == (
        "Courrier à la banque En attente des prérequis Disponible dès la première "
        "connexion. Disponible quand l'espace sera vérifié."
    )
    assert "in_progress" in _classes(nodes["follow_up"])
    prerequisites = _arrows(root, "prerequisite")
    assert set(prerequisites) == {
        ("invitation", "space_check"),
        ("invitation", "kyc"),
        ("invitation", "iban"),
        ("invitation", "affiliation"),
        ("invitation", "letter"),
        ("space_check", "letter"),
        ("kyc", "banque_postale_transfer"),
        ("iban", "banque_postale_transfer"),
        *((p, "card_order") for p in ("kyc", "iban", "affiliation")),
    }
    assert _words(prerequisites[("space_check", "letter")]) == "« Espace vérifié »"
    effects = _arrows(root, "effect")
    # A validated change of mandataire invites the new person: the affiliation's effect.
    assert set(effects) == {
        ("letter", "follow_up"),
        ("affiliation", "invitation"),
        ("banque_postale_transfer", "emergency_advance"),
    }
    assert _words(effects[("letter", "follow_up")]) == "à « Lettre envoyée » : Clore le suivi"
    assert any(
        "stroke-dasharray" in p.attrib for p in effects[("letter", "follow_up")].iter("path")
    )

    # The mandataire logs in and confirms the space: the letter starts by itself.
    me = Actor.mandataire(coop.mandataire)
    with rt.engine.transaction() as tx:
        tx.fire(coop.invitation_id, "set_password", actor=me)
        tx.fire(coop.invitation_id, "first_login", actor=me)
    with rt.db.read() as session:
        space_id = space_case(session, coop.coop_id).id
    with rt.engine.transaction() as tx:
        tx.fire(space_id, "confirm", actor=me)
    with rt.db.read() as session:
        assert session.get(Case, letter_id).state == "writing"
    root = _svg(client.get(f"/admin/cooperatives/{coop.coop_id}").get_data(as_text=True))
    nodes = _nodes(root)
    assert "in_progress" in _classes(nodes["letter"])
    assert _words(nodes["letter"]) == "Courrier à la banque Lettre en préparation"
    assert {"done"} <= _classes(nodes["space_check"])
    assert all(
        "met" in _classes(a)
        for (_, process), a in _arrows(root, "prerequisite").items()
        # kyc, iban and affiliation are still on their way
        if process not in ("banque_postale_transfer", "card_order")
    )
    assert 'id="prerequis"' not in client.get(f"/admin/dossiers/{letter_id}").get_data(as_text=True)
