"""Demonstration data of the bank side: a kyc and an iban case in every lasting state.

As for the rest of the demo the history is real: the accounts are activated through the
engine, the steps run (``request_identification`` asks the Swan sandbox for a
membership), the mandataires go through the sandbox's identification page
(``simulate``, its events recorded as the webhook records them, then ``sync``), and the
RIBs are handed in as the portal hands them in (``submit_rib``, then ``check_rib``).

``waiting`` (kyc), ``checking`` and ``verified`` (iban) last until the worker's next
turn: no demo case stays in them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from coopflow.runtime import Runtime
from workflows import swan_events
from workflows.engine.clock import MovableClock
from workflows.engine.engine import Actor, Engine
from workflows.models import AD, Case, Coop, Mandataire
from workflows.password_hashing import hash_password
from workflows.processes.iban.rib_checks import RibInput
from workflows.processes.iban.submission import check_rib_file, submit_rib

PASSWORD = "Ecole*Nice2026"
#: A RIB as a bank's PDF starts; its content is only shown to the AD's staff.
RIB_PDF = b"%PDF-1.4\n% RIB de demonstration\n" + b"0" * 256 + b"\n%%EOF\n"
GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 189"


@dataclass(frozen=True)
class Stage:
    """A coop of AD06 and where its mandataire is: ``swan`` the outcomes on Swan's page
    in order (``("invalid", "ExpiredDocument")``…), ``rib`` the RIBs handed in, ``then``
    what happens after (staff or mandataire triggers on the iban case)."""

    number: str
    coop: str
    first_name: str
    last_name: str
    sees: str
    swan: tuple[tuple[str, ...], ...] = ()
    rib: tuple[dict[str, object], ...] = ()
    then: tuple[tuple[str, dict[str, str]], ...] = ()
    #: Activated this many days ago (the timers have run since).
    days_ago: int = 0


def _rib(**changes: object) -> dict[str, object]:
    good: dict[str, object] = {
        "iban": GOOD_IBAN,
        "bic": "AGRIFRPP",
        "holder": "OCCE 06 COOP ECOLE",
        "age_days": 30,
    }
    return {**good, **changes}


STAGES = [
    Stage(
        "0060108H",
        "Coop Les Lauriers",
        "Camille",
        "Giraud",
        "identité à vérifier, RIB à déposer",
    ),
    Stage(
        "0060109J",
        "Coop du Château",
        "Mathis",
        "Rey",
        "vérification d'identité commencée",
        swan=(("started",),),
    ),
    Stage(
        "0060110K",
        "Coop Les Tilleuls",
        "Nadia",
        "Haddad",
        "pièces envoyées, Swan les examine ; RIB à vérifier par l'AD",
        swan=(("started",), ("pending",)),
        rib=(_rib(holder="Mairie de Nice régie école"),),
    ),
    Stage(
        "0060111L",
        "Coop Les Cigales",
        "Sophie",
        "Lambert",
        "identité vérifiée, compte bancaire certifié",
        swan=(("started",), ("pending",), ("valid",)),
        rib=(_rib(),),
    ),
    Stage(
        "0060112M",
        "Coop de l'Observatoire",
        "Thomas",
        "Girard",
        "identité refusée (pièce expirée), RIB refusé (plus de 12 mois)",
        swan=(("started",), ("pending",), ("invalid", "ExpiredDocument")),
        rib=(_rib(age_days=400),),
    ),
    Stage(
        "0060113N",
        "Coop du Vallon",
        "Léa",
        "Fontaine",
        "identité refusée deux fois (à appeler) ; compte signalé « pas le nôtre »",
        swan=(
            ("started",),
            ("invalid", "InsufficientDocumentReadability"),
            ("retry",),
            ("started",),
            ("invalid", "NonMatchingIdentity"),
        ),
        rib=(_rib(),),
        then=(
            (
                "report_mismatch",
                {"message": "Ce n'est pas notre banque : notre compte est au Crédit Mutuel."},
            ),
        ),
    ),
    Stage(
        "0060114P",
        "Coop Les Oliviers de Cimiez",
        "Hugo",
        "Mercier",
        "identité différente de la fiche (nom), à vérifier par l'AD",
        swan=(("started",), ("binding_error", "lastNameMatchError")),
    ),
    Stage(
        "0060115Q",
        "Coop Les Mouettes",
        "Manon",
        "Blanc",
        "vérification commencée puis expirée",
        swan=(("started",), ("expired",)),
    ),
    Stage(
        "0060116R",
        "Coop du Mont Boron",
        "Yanis",
        "Caron",
        "rien fait depuis plus d'un mois (bloqué : à relancer)",
        days_ago=31,
    ),
]


def load(rt: Runtime, run_pending: Callable[[Runtime, Engine], None]) -> None:
    """Import the stages' coops, activate their accounts, and bring each case where its
    stage says (``run_pending`` runs the queued steps at an engine's time)."""
    now = rt.engine.clock.now()
    for stage in STAGES:
        engine = rt.engine
        if stage.days_ago:
            engine = Engine(
                rt.db,
                rt.engine.definitions,
                clock=MovableClock(start=now - timedelta(days=stage.days_ago)),
            )
        bank(rt, stage, run_pending, invited_by=engine, then=rt.engine)


def bank(
    rt: Runtime,
    stage: Stage,
    run_pending: Callable[[Runtime, Engine], None],
    *,
    invited_by: Engine,
    then: Engine,
) -> int:
    """The stage's coop imported and its account activated at ``invited_by``'s time,
    then its kyc and iban cases brought where the stage says at ``then``'s; its id."""
    engine = invited_by
    coop_id = _invited_coop(engine, stage)
    run_pending(rt, engine)  # the invitation email
    with engine.transaction() as tx:
        me = Actor.mandataire(_mandataire(tx.session, coop_id))
        case_id = _case(tx.session, coop_id, "invitation").id
        for trigger in ("set_password", "first_login"):
            tx.fire(case_id, trigger, actor=me)
    run_pending(rt, engine)  # kyc asks Swan for a membership
    _through_swan(rt, then, coop_id, stage, run_pending)
    run_pending(rt, then)
    for rib in stage.rib:
        _hand_in(then, coop_id, rib)
        run_pending(rt, then)
    for trigger, payload in stage.then:
        with then.transaction() as tx:
            person = _mandataire(tx.session, coop_id)
            tx.fire(
                _case(tx.session, coop_id, "iban").id,
                trigger,
                actor=Actor.mandataire(person),
                payload=payload,
            )
    run_pending(rt, then)
    return coop_id


def _email(stage: Stage) -> str:
    name = unicodedata.normalize("NFKD", f"{stage.first_name}.{stage.last_name}".lower())
    return "".join(c for c in name if not unicodedata.combining(c)) + "@ac-nice.fr"


def _invited_coop(engine: Engine, stage: Stage) -> int:
    email = _email(stage)
    with engine.transaction() as tx:
        ad = tx.session.scalars(select(AD).where(AD.code == "AD06")).one()
        coop = Coop(
            ad_id=ad.id,
            affiliation_number=stage.number,
            name=stage.coop,
            school_name=f"École {stage.coop.removeprefix('Coop ')}",
            street="1 place Masséna",
            postal_code="06000",
            city="Nice",
            school_email=f"ce.{stage.number.lower()}@ac-nice.fr",
            created_at=tx.now,
            updated_at=tx.now,
        )
        tx.session.add(coop)
        tx.session.flush()
        person = Mandataire(
            coop_id=coop.id,
            first_name=stage.first_name,
            last_name=stage.last_name,
            email=email,
            created_at=tx.now,
            password_hash=hash_password(PASSWORD),
            password_set_at=tx.now,
            last_login_at=tx.now,
        )
        tx.session.add(person)
        tx.session.flush()
        tx.start(
            "invitation",
            coop.id,
            actor=Actor.system("démonstration"),
            data={"mandataire_id": person.id},
            trigger="invite",
        )
        return coop.id


def _through_swan(
    rt: Runtime,
    engine: Engine,
    coop_id: int,
    stage: Stage,
    run_pending: Callable[[Runtime, Engine], None],
) -> None:
    """The mandataire on Swan's page, step by step; each event delivered as the webhook
    delivers it, and the ``sync`` it queues run before the next."""
    for outcome, *detail in stage.swan:
        if outcome == "retry":
            with engine.transaction() as tx:
                person = _mandataire(tx.session, coop_id)
                tx.fire(
                    _case(tx.session, coop_id, "kyc").id, "retry", actor=Actor.mandataire(person)
                )
            run_pending(rt, engine)
            continue
        with rt.db.read() as session:
            membership = _case(session, coop_id, "kyc").data["membership_id"]
        kwargs: dict[str, tuple[str, ...]] = {}
        if outcome == "invalid":
            kwargs["reasons"] = tuple(detail)
        elif outcome == "binding_error":
            kwargs["fields"] = tuple(detail)
        for event in rt.swan.simulate(membership, outcome, **kwargs):  # type: ignore[attr-defined]
            with engine.transaction() as tx:
                swan_events.record(tx, swan_events.parse(event))
        run_pending(rt, engine)


def _hand_in(engine: Engine, coop_id: int, rib: dict[str, object]) -> None:
    today = engine.clock.now().date()
    typed = RibInput(
        iban=str(rib["iban"]),
        bic=str(rib["bic"]),
        holder=str(rib["holder"]),
        rib_date=today - timedelta(days=int(str(rib["age_days"]))),
    )
    with engine.transaction() as tx:
        person = _mandataire(tx.session, coop_id)
        case = tx.lock(_case(tx.session, coop_id, "iban").id)
        submit_rib(
            tx,
            case,
            typed,
            check_rib_file(RIB_PDF),
            by=Actor.mandataire(person),
            key=f"demo-{coop_id}-{tx.now.timestamp()}",
        )


def _mandataire(session, coop_id: int) -> Mandataire:  # type: ignore[no-untyped-def]
    return session.scalars(select(Mandataire).where(Mandataire.coop_id == coop_id)).one()


def _case(session, coop_id: int, process: str) -> Case:  # type: ignore[no-untyped-def]
    return session.scalars(
        select(Case).where(Case.coop_id == coop_id, Case.process == process)
    ).one()


#: The portal logins of these stages: (email, password, what they see).
LOGINS = [(_email(stage), PASSWORD, stage.sees) for stage in STAGES]
