"""The case page speaks French: its history names every step, timer, trigger, start and
actor by its label in the definitions, says what became of the steps an event queued (a
reminder whose email was cancelled is no reminder sent), and the page says when the next
timer fires and when a failing step is tried again (Paris time)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import select

from admin.presenters import CasePresenter
from tests.admin.conftest import log_in, text
from tests.conftest import T0
from workflows.engine import steps
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.formatting import datetime_fr
from workflows.models import Case, CaseEvent, Mandataire, Step, StepStatus
from workflows.processes import DEFINITIONS

#: What staff must never read: the code names of the definitions and of the engine.
CODE_NAMES = [
    *(s.name for d in DEFINITIONS.values() for s in d.steps),
    *(t.name for d in DEFINITIONS.values() for t in d.timers),
    *(t.trigger for d in DEFINITIONS.values() for t in d.transitions if "_" in t.trigger),
    *(s.name for d in DEFINITIONS.values() for s in d.states if "_" in s.name),
    "moteur",
    "minuteur",
    "prérequis rempli",
    "(système)",
]


def _plain(html: str) -> str:
    """The page's text with its non-breaking spaces as spaces (checked apart)."""
    return html.replace("\u00a0", " ")


def _section(html: str, css_class: str) -> str:
    found = re.search(rf'<table class="[^"]*\b{css_class}\b.*?</table>', html, re.S)
    assert found, css_class
    return found.group(0)


def _cell(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _rows(html: str) -> list[list[str]]:
    """The history's lines, each as its cells' text."""
    body = _section(html, "timeline").split("<tbody>")[1]
    return [
        [_cell(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def _step(rt, case_id: int, name: str) -> int:
    with rt.db.read() as session:
        return session.scalars(
            select(Step.id)
            .where(Step.case_id == case_id, Step.name == name)
            .order_by(Step.id.desc())
        ).first()


def _run(rt, case_id: int, name: str, outcome: str | None = None) -> None:
    claimed = steps.claim(rt.engine, _step(rt, case_id, name))
    assert claimed is not None
    steps.complete(rt.engine, claimed, steps.Outcome(outcome))


def test_a_reminder_cancelled_before_it_left_is_not_shown_as_sent(
    client, rt, clock, staff06, make_case
):
    case = make_case("created")
    with rt.engine.transaction() as tx:
        tx.fire(case.id, "invite", actor=Actor.staff(staff06), comment="Rentrée")
    _run(rt, case.id, "send_invitation")  # sent: the case waits for the password
    log_in(client, staff06)
    page = _plain(text(client.get(f"/admin/dossiers/{case.id}")))
    # The next deadlines, in Paris time: T0 is 07:30 UTC, 09:30 in Paris.
    deadlines = re.search(r'<dd class="[^"]*deadlines[^"]*">(.*?)</dd>', page, re.S).group(1)
    assert [re.sub(r"<[^>]+>", "", d) for d in re.findall(r"<div>(.*?)</div>", deadlines)] == [
        "Premier rappel : le 10/09/2026 à 09:30",
        "Second rappel : le 13/09/2026 à 09:30",
        "Expiration du lien d'invitation : le 14/09/2026 à 09:30",
    ]

    clock.advance(timedelta(days=3, minutes=1))
    tick(rt.engine)  # the first reminder: its email leaves
    _run(rt, case.id, "send_reminder")
    clock.advance(timedelta(days=3))
    tick(rt.engine)  # the second: queued, but the mandataire sets a password first
    with rt.engine.transaction() as tx:
        person = tx.session.get(Mandataire, case.data["mandataire_id"])
        tx.fire(case.id, "set_password", actor=Actor.mandataire(person))
        name = person.full_name
    with rt.db.read() as session:
        statuses = [s.status for s in session.get(Case, case.id).steps if s.name == "send_reminder"]
    assert statuses == [StepStatus.DONE.value, StepStatus.CANCELLED.value]

    html = unescape(client.get(f"/admin/dossiers/{case.id}").get_data(as_text=True))
    page = _plain(html)
    timeline = _section(page, "timeline")
    for code in CODE_NAMES:
        assert code not in timeline, code
    rows = _rows(page)
    created, invite, sent, first, second, password = rows
    assert created[1:3] == ["Test (automatique)", "Création"]
    assert invite[1:5] == [
        "Claire Agent (équipe)",
        "Changement d'état",
        "Envoyer l'invitation Étape « Envoi de l'invitation » faite le 07/09/2026 à 09:30",
        "Importée, invitation non envoyée → Envoi de l'invitation en cours",
    ]
    assert invite[5] == "Rentrée"
    assert sent[1:3] == ["Étape « Envoi de l'invitation » (automatique)", "Changement d'état"]
    assert first[1:4] == [
        "Premier rappel (délai automatique)",
        "Action",
        "Rappel Étape « Envoi du rappel » faite le 10/09/2026 à 09:31",
    ]
    assert second[1:4] == [
        "Second rappel (délai automatique)",
        "Action",
        "Rappel Étape « Envoi du rappel » annulée, non exécutée : le dossier avait changé d'état",
    ]
    assert password[1] == f"{name} (mandataire)"
    # The typography of what the page composed: non-breaking spaces.
    assert "Étape «\u00a0Envoi du rappel\u00a0» annulée, non exécutée\u00a0: le dossier" in html
    assert "faite le 10/09/2026" in html and "Second rappel\u00a0(délai" not in html


def test_the_next_retry_of_a_failing_step_shows_on_the_page(client, rt, staff06, make_case):
    case = make_case("created")
    with rt.engine.transaction() as tx:
        tx.fire(case.id, "invite", actor=Actor.staff(staff06))
    claimed = steps.claim(rt.engine, _step(rt, case.id, "send_invitation"))
    assert claimed is not None
    steps.fail(rt.engine, claimed, "SMTP injoignable", "Traceback", permanent=False)
    with rt.db.read() as session:
        step = session.get(Step, claimed.id)
        assert step.status == StepStatus.PENDING.value
        when = datetime_fr(step.not_before)
    log_in(client, staff06)
    page = _plain(text(client.get(f"/admin/dossiers/{case.id}")))
    deadlines = re.search(r'<dd class="[^"]*deadlines[^"]*">(.*?)</dd>', page, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", deadlines).strip() == (
        f"Nouvelle tentative de l'étape « Envoi de l'invitation » : le {when} "
        "(tentative 2 sur 5, dernière erreur : SMTP injoignable)"
    )
    assert f"en attente, nouvelle tentative le {when}" in page  # the steps' table
    invite = _rows(page)[1]
    assert invite[3] == (
        "Envoyer l'invitation Étape « Envoi de l'invitation » en échec pour l'instant "
        f"(SMTP injoignable) : nouvelle tentative le {when}"
    )


def test_a_case_without_timer_nor_retry_has_no_deadline(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    page = _plain(text(client.get(f"/admin/dossiers/{case.id}")))
    deadlines = re.search(r'<dd class="[^"]*deadlines[^"]*">(.*?)</dd>', page, re.S).group(1)
    assert deadlines.strip() == "aucune"


def test_staff_buttons_read_as_verbs(client, rt, staff06, make_case):
    case = make_case("created")
    with rt.engine.transaction() as tx:
        tx.fire(case.id, "invite", actor=Actor.system("test"))
    _run(rt, case.id, "send_invitation")
    log_in(client, staff06)
    page = _plain(text(client.get(f"/admin/dossiers/{case.id}")))
    buttons = re.findall(r'<button type="submit" class="btn [^"]*">([^<]+)</button>', page)
    assert "Signaler l'adresse comme refusée" in buttons
    assert "Adresse refusée" not in buttons
    assert {"Renvoyer l'invitation", "Annuler"} <= set(buttons)


def test_a_case_started_by_its_prerequisites_says_which(client, rt, staff06, make_case):
    case = make_case("created")
    with rt.engine.transaction() as tx:
        tx.fire(case.id, "invite", actor=Actor.system("test"))
    _run(rt, case.id, "send_invitation")
    with rt.engine.transaction() as tx:
        person = tx.session.get(Mandataire, case.data["mandataire_id"])
        tx.fire(case.id, "set_password", actor=Actor.mandataire(person))
        tx.fire(case.id, "first_login", actor=Actor.mandataire(person))
    with rt.db.read() as session:
        check = session.scalars(
            select(Case).where(Case.coop_id == case.coop_id, Case.process == "space_check")
        ).one()
    log_in(client, staff06)
    page = _plain(text(client.get(f"/admin/dossiers/{check.id}")))
    [created, *_] = _rows(page)
    assert created[1] == (
        "Démarrage automatique : « Invitation et mot de passe » à l'état « Compte actif »"
    )
    assert "Premier rappel : le 14/09/2026 à 09:30" in re.sub(r"<[^>]+>", "", page)


def test_a_migrated_case_reads_without_code_names():
    """« coopflow migrate-cases » writes the old and new state names in its comment: the
    history says it from the event's versions, and the state gone without its name."""
    invitation = DEFINITIONS["invitation"]
    case = Case(process="invitation", state="expired", steps=[])
    event = CaseEvent(
        id=1,
        at=T0,
        actor="system migration des dossiers",
        kind="migration",
        from_state="link_expired",
        to_state="expired",
        payload={"from_version": 1, "to_version": 2},
        comment="Processus mis à jour : version 1 → 2, état « link_expired » devenu « expired ».",
    )
    [line] = CasePresenter(case, invitation, DEFINITIONS).history([event])
    assert line.actor == "Migration des dossiers (automatique)"
    assert line.kind == "Mise à jour du processus"
    assert _plain(line.comment) == "Processus mis à jour : version 1 → 2."
    assert _plain(line.state) == "un état retiré du processus → Lien expiré"
    assert "link_expired" not in repr(line)
