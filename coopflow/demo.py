"""Demonstration data for ``make run``: three ADs, staff accounts, coops at every stage.

The history is real, not written by hand: coops are imported and invited through the
engine with a clock set in the past, their steps run, and the scheduler's tick then
expires the links nobody used.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from coopflow import demo_affiliation, demo_banking, demo_cards, demo_transfer
from coopflow.accounts import create_staff
from coopflow.runtime import Runtime
from workers.providers.mail import Mailer, SandboxMailer
from workers.providers.swan import SandboxSwan, Swan
from workers.runner import run_step
from workflows.coop_import import import_coops
from workflows.engine.clock import MovableClock
from workflows.engine.engine import Actor, Engine, UnitOfWork
from workflows.engine.scheduling import tick
from workflows.models import AD, Case, Coop, Mandataire, StaffUser, Step, StepStatus
from workflows.password_hashing import hash_password

#: (email, password, role, AD, what the account sees)
DEMO_STAFF = [
    ("national@occe.coop", "Federation*2026", "national", None, "national (toutes les AD)"),
    ("ad06@occe.coop", "Nice*Cote2026", "ad", "AD06", "AD06 (Alpes-Maritimes)"),
    ("ad50@occe.coop", "Manche*StLo2026", "ad", "AD50", "AD50 (Manche)"),
    ("lecture@occe.coop", "Lire*Seul2026", "readonly", "AD06", "lecture seule, AD06"),
    (
        "tresorier06@occe.coop",
        "Tresor*Nice2026",
        "ad",
        "AD06",
        "AD06, trésorier : examine les demandes d'avance",
    ),
]
#: The AD officers among them: (officer role, full name); only they review advances.
DEMO_OFFICERS = {"tresorier06@occe.coop": ("treasurer", "Denis Olivier (trésorier, démo)")}
DEMO_LOGINS = [(email, password, label) for email, password, _, _, label in DEMO_STAFF]
#: A mandataire whose account is active: the portal's checklist at /connexion.
DEMO_MANDATAIRE = ("eloise.martin@ac-nice.fr", "Ecole*Nice2026")
#: The other mandataires who log in, one per stage of their processes: (email, password,
#: what they see). Printed at start and listed in the README, with DEMO_MANDATAIRE.
DEMO_MANDATAIRES = [
    (
        email,
        password,
        f"{sees} ; {demo_affiliation.SEES[email]}" if email in demo_affiliation.SEES else sees,
    )
    for email, password, sees in [
        (*DEMO_MANDATAIRE, "espace actif, à vérifier"),
        ("anais.berenger@ac-nice.fr", "Ecole*Nice2026", "espace vérifié (récapitulatif PDF)"),
        ("loic.menard@ac-nice.fr", "Ecole*Nice2026", "problème signalé, en attente de l'AD"),
        ("julien.roux@ac-nice.fr", "Ecole*Nice2026", "mot de passe choisi, jamais connecté"),
        *demo_banking.LOGINS,
        *demo_transfer.LOGINS,
        *demo_cards.LOGINS,
    ]
]

ADS = [
    ("AD06", "OCCE 06 Alpes-Maritimes", "ad06@occe.coop", "04 93 53 76 11", ["ac-nice.fr"]),
    ("AD35", "OCCE 35 Ille-et-Vilaine", "ad35@occe.coop", "02 99 65 42 42", ["ac-rennes.fr"]),
    (
        "AD50",
        "Asso Dépt OCCE du 50",
        "ad50@occe.coop",
        "02 33 57 46 61",
        ["ac-normandie.fr", "ac-caen.fr"],
    ),
]

#: The ADs' postal addresses (their letterhead).
ADDRESSES = {
    "AD06": "Le Nouvel Horizon, 8 avenue des Arènes de Cimiez, 06000 Nice",
    "AD35": "14 rue des Veyettes, 35000 Rennes",
    "AD50": "Maison des associations, 8 rue de la Halle aux Grains, 50000 Saint-Lô",
}

HEADER = (
    "numero_affiliation;nom_cooperative;ecole;adresse;code_postal;commune;email_ecole;"
    "prenom_mandataire;nom_mandataire;email_mandataire\n"
)

#: (AD, days ago, invite, rows)
BATCHES = [
    (
        "AD06",
        10,
        True,
        [
            "0060101A;Coopérative école Jean-Jaurès;École élémentaire Jean-Jaurès;4 avenue Thiers;"
            "06000;Nice;ce.0060101a@ac-nice.fr;Hélène;Dupré;helene.dupre@ac-nice.fr",
            "0060102B;Coop des Oliviers;École maternelle Les Oliviers;12 chemin des Oliviers;"
            "06130;Grasse;ce.0060102b@ac-nice.fr;Karim;Benali;karim.benali@ac-nice.fr",
            "0060103C;Coopérative du Port;École primaire du Port;1 quai Lunel;06300;Nice;"
            "ce.0060103c@ac-nice.fr;Inconnu;Destinataire;inconnu.destinataire@ac-nice.fr",
        ],
    ),
    (
        "AD06",
        0,
        True,
        [
            "0060104D;Coopérative Sainte-Thérèse;École Sainte-Thérèse;3 rue Pastorelli;06000;Nice;"
            "ce.0060104d@ac-nice.fr;Éloïse;Martin;eloise.martin@ac-nice.fr",
            "0060105E;Coop Les Mimosas;École élémentaire Les Mimosas;8 boulevard Carnot;06400;"
            "Cannes;ce.0060105e@ac-nice.fr;Julien;Roux;julien.roux@ac-nice.fr",
            # Names with accents, for the search that ignores them (« exupery »).
            "0060106F;Coopérative Saint-Exupéry;École élémentaire Antoine de Saint-Exupéry;"
            "15 avenue Borriglione;06100;Nice;ce.0060106f@ac-nice.fr;Anaïs;Bérenger;"
            "anais.berenger@ac-nice.fr",
            "0060107G;Coop des Pâquerettes;École maternelle Les Pâquerettes;2 rue Trachel;06000;"
            "Nice;ce.0060107g@ac-nice.fr;Loïc;Ménard;loic.menard@ac-nice.fr",
        ],
    ),
    (
        "AD50",
        2,
        True,
        [
            "2214;OCCE 50 Coop scolaire 2214;École de la Dollée;5 boulevard de la Dollée;50000;"
            "Saint-Lô;ce.0500214@ac-normandie.fr;Jean;Lefèvre;jean.lefevre@ac-normandie.fr",
        ],
    ),
    (
        "AD35",
        0,
        False,
        [
            "0350010K;Coop de l'école des Gantelles;École des Gantelles;2 rue de Brno;35200;"
            "Rennes;ce.0350010k@ac-rennes.fr;Maëlle;Le Goff;maelle.le-goff@ac-rennes.fr",
        ],
    ),
]


def load_demo(rt: Runtime) -> bool:
    """Fill an empty database; returns False (and does nothing) when it has data."""
    with rt.db.read() as session:
        if session.scalar(select(func.count()).select_from(AD)):
            return False

    with rt.engine.transaction() as tx:
        for code, name, email, phone, domains in ADS:
            tx.session.add(
                AD(
                    code=code,
                    name=name,
                    email=email,
                    phone=phone,
                    # The letterhead of its letters and contracts.
                    address=ADDRESSES[code],
                    academic_domains=domains,
                    created_at=tx.now,
                )
            )
    for email, password, role, ad_code, _ in DEMO_STAFF:
        agent = f"Agent {ad_code or 'national'} (démo)"
        officer_role, name = DEMO_OFFICERS.get(email, (None, agent))
        create_staff(
            rt.engine,
            email=email,
            full_name=name,
            role=role,
            ad_code=ad_code,
            password=password,
            officer_role=officer_role,
        )

    now = rt.engine.clock.now()
    for code, days_ago, invite, rows in BATCHES:
        past = Engine(
            rt.db, rt.engine.definitions, clock=MovableClock(start=now - timedelta(days=days_ago))
        )
        with past.transaction() as tx:
            ad = tx.session.scalars(select(AD).where(AD.code == code)).one()
            content = (HEADER + "\n".join(rows) + "\n").encode()
            import_coops(tx, ad, content, invite=invite, actor=Actor.system("démonstration"))
        _run_pending(rt, past)
    # The links of ten days ago expired three days ago, at the scheduler's tick then.
    tick(Engine(rt.db, rt.engine.definitions, clock=MovableClock(start=now - timedelta(days=2))))
    _open_demo_tasks(rt, now)
    demo_affiliation.last_year(rt, _run_pending)
    _activate_demo_mandataire(rt)
    _demo_stages(rt)
    demo_banking.load(rt, _run_pending)
    demo_affiliation.this_year(rt, _run_pending)
    demo_transfer.load(rt, _run_pending)
    demo_cards.load(rt, _run_pending)
    tick(rt.engine)
    _run_pending(rt, rt.engine)
    with rt.db.read() as session:
        return bool(session.scalar(select(func.count()).select_from(Coop)))


#: (affiliation number, task, due in days from now: negative is already late)
TASKS = [
    ("0060103C", "Appeler l'école pour obtenir l'adresse du mandataire", 2),
    ("2214", "Vérifier avec l'école le nom du nouveau mandataire", -1),
]


def _open_demo_tasks(rt: Runtime, now: datetime) -> None:
    """Tasks staff opened by hand, one of them late (its case becomes stuck)."""
    for number, title, days in TASKS:
        with rt.engine.transaction() as tx:
            case_id = tx.session.scalar(
                select(Case.id).join(Coop).where(Coop.affiliation_number == number)
            )
            staff = tx.session.scalars(select(StaffUser).where(StaffUser.role == "ad")).first()
            case = tx.lock(case_id)
            tx.open_task(
                case,
                kind="manual",
                title=title,
                due_at=now + timedelta(days=days),
                created_by=Actor.staff(staff) if staff else Actor.system("démonstration"),
            )


def _activate_demo_mandataire(rt: Runtime) -> None:
    """Éloïse Martin chose her password and logged in: her space waits to be checked."""
    email, password = DEMO_MANDATAIRE
    with rt.engine.transaction() as tx:
        mandataire = tx.session.scalars(select(Mandataire).where(Mandataire.email == email)).one()
        mandataire.password_hash = hash_password(password)
        mandataire.password_set_at = mandataire.last_login_at = tx.now
        case_id = tx.session.scalars(
            select(Case.id).where(Case.coop_id == mandataire.coop_id, Case.process == "invitation")
        ).one()
        me = Actor.mandataire(mandataire)
        tx.fire(case_id, "set_password", actor=me)
        tx.fire(case_id, "first_login", actor=me)


#: (affiliation number, the triggers its mandataire fires, then its space check's) so
#: that every state of both processes has a case; the payload is the space check's.
STAGES: list[tuple[str, tuple[str, ...], tuple[str, ...], dict[str, str]]] = [
    ("0060105E", ("set_password",), (), {}),
    ("0060106F", ("set_password", "first_login"), ("confirm",), {}),
    (
        "0060107G",
        ("set_password", "first_login"),
        ("report_problem",),
        {"message": "L'adresse de l'école est l'ancienne : nous sommes au 4 rue Trachel."},
    ),
]


def _demo_stages(rt: Runtime) -> None:
    """Mandataires at each stage (DEMO_MANDATAIRES), and an invitation cancelled by staff
    (the school closed): every lasting state of the invitation and the space check
    (``sending`` lasts until the worker's next turn; no space check is cancelled)."""
    logins = {email: password for email, password, _ in DEMO_MANDATAIRES}
    for number, invitation, space, payload in STAGES:
        with rt.engine.transaction() as tx:
            coop_id = tx.session.scalar(select(Coop.id).where(Coop.affiliation_number == number))
            person = tx.session.scalars(
                select(Mandataire).where(Mandataire.coop_id == coop_id)
            ).one()
            person.password_hash = hash_password(logins[person.email])
            person.password_set_at = tx.now
            me = Actor.mandataire(person)
            case_id = _case_of(tx, coop_id, "invitation")
            for trigger in invitation:
                tx.fire(case_id, trigger, actor=me)
            if "first_login" in invitation:
                person.last_login_at = tx.now
            for trigger in space:  # its case started with the account, in this transaction
                tx.fire(_case_of(tx, coop_id, "space_check"), trigger, actor=me, payload=payload)
    with rt.engine.transaction() as tx:
        coop_id = tx.session.scalar(select(Coop.id).where(Coop.affiliation_number == "0060102B"))
        staff = tx.session.scalars(select(StaffUser).where(StaffUser.role == "national")).first()
        tx.fire(
            _case_of(tx, coop_id, "invitation"),
            "cancel",
            actor=Actor.staff(staff) if staff else Actor.system("démonstration"),
            comment="L'école a fermé à la rentrée : plus de coopérative à ouvrir.",
        )


def _case_of(tx: UnitOfWork, coop_id: int | None, process: str) -> int:
    case_id = tx.session.scalar(
        select(Case.id).where(Case.coop_id == coop_id, Case.process == process)
    )
    assert case_id is not None, (coop_id, process)
    return int(case_id)


def _run_pending(rt: Runtime, engine: Engine) -> None:
    """Run the queued steps now, at the engine's (possibly past) time."""
    services = _Services(rt, engine)
    while True:
        with rt.db.read() as session:
            ids = session.scalars(
                select(Step.id).where(Step.status == StepStatus.PENDING.value).order_by(Step.id)
            ).all()
        if not ids:
            return
        for step_id in ids:
            run_step(services, step_id)


class _Services:
    """The runtime's services at another time, with the sandbox mailer: demo addresses
    may belong to real teachers, so demo emails are never sent, whatever the SMTP URL.
    Nor is Swan ever called: the manual path when configured, else the sandbox, at the
    engine's time and without its injected faults (the demo's steps all run now)."""

    def __init__(self, rt: Runtime, engine: Engine) -> None:
        self.settings, self.links, self.engine = rt.settings, rt.links, engine
        self.mailer: Mailer = SandboxMailer()
        self.swan: Swan = (
            rt.swan
            if rt.swan.mode == "manual"
            else SandboxSwan(rt.db, engine.clock, base_url=rt.settings.base_url)
        )
