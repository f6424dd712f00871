"""Demonstration data of the Banque Postale transfer and the emergency advance: AD06's
coops with a case in every lasting state of both, and the README's tour (a mandataire
fills the attestation; AD06 prints the letters, marks them sent, records the funds of
Coop Les Genêts, and its advance is repaid).

As for the rest of the demo the history is real. Each coop lives its story at its own
time (an engine whose clock starts that many days ago and moves forward with it): its
mandataire goes through Swan's identification and hands in a RIB (``demo_banking``), so
the transfer starts by itself; then its moves (``demo_transfer_moves``): the attestation
as the portal keeps it, the affiliation sent and validated (``demo_affiliation``), the
advance asked with its quote, reviewed by AD06's treasurer, signed, paid; the letters
marked sent as « Lettres à envoyer » marks them; the funds recorded by staff or reported
by the Swan sandbox (``receive_transfer``, delivered as ``/webhooks/swan`` delivers it).
The steps run at each move (letters, contracts and emails made then), and the
scheduler's tick at the end of the demo fires what fell due: reminders, the attestation
21 days late, no funds 30 days after the letter, an advance past the AD's delay.

``attested`` (transfer), ``requested`` and ``approved`` (advance) last until the
worker's next turn: no demo case stays in them. Nor in ``waiting``: a transfer case
starts, awaiting the attestation, when the coop's identity is verified and its account
certified (the portal shows the coops before that what is missing, without a case).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from coopflow import demo_banking
from coopflow.demo_transfer_moves import MOVES, Context, RunPending
from coopflow.runtime import Runtime
from workflows.engine.clock import MovableClock
from workflows.engine.engine import Engine

REJECTED = (
    "Le séjour n'est pas encore engagé : l'avance est réservée à une sortie déjà "
    "réservée dont l'acompte est dû. Redemandez-la avec la facture du transporteur."
)


@dataclass(frozen=True)
class Story:
    """A coop of AD06, its mandataire and what happens to its transfer and advance:
    its banking done ``days_ago`` (the attestation awaited from then), then each move
    ``(day, move, detail)`` that many days later (``demo_transfer_moves.MOVES``)."""

    number: str
    coop: str
    first_name: str
    last_name: str
    sees: str
    days_ago: int
    #: Its old account at La Banque Postale (a valid IBAN of bank 20041).
    old_account: str
    moves: tuple[tuple[int, str, Any], ...] = ()

    def stage(self) -> demo_banking.Stage:
        """Identity verified at Swan and a good RIB certified: the transfer starts."""
        return demo_banking.Stage(
            self.number,
            self.coop,
            self.first_name,
            self.last_name,
            self.sees,
            swan=(("started",), ("pending",), ("valid",)),
            rib=(demo_banking._rib(),),
        )


STORIES = [
    Story(
        "0060117S",
        "Coop Les Platanes",
        "Inès",
        "Morel",
        "solde Banque Postale : attestation à remplir (la visite guidée)",
        1,
        "FR9020041010050024567A00028",
    ),
    Story(
        "0060118T",
        "Coop du Paillon",
        "Romain",
        "Perrin",
        "attestation envoyée, lettre prête ; adhésion validée : peut demander une avance",
        2,
        "FR1720041010050034567B00083",
        ((0, "attest", 245000), (0, "affiliate", None)),
    ),
    Story(
        "0060119U",
        "Coop Les Genêts",
        "Clara",
        "Dumas",
        "avance versée ; sa lettre attend d'être envoyée (ses fonds rembourseront l'avance)",
        4,
        "FR4120041010050044567C00041",
        (
            (0, "attest", 180000),
            (0, "affiliate", None),
            (0, "request", 80000),
            (1, "approve", None),
            (1, "sign", None),
            (2, "disburse", None),
        ),
    ),
    Story(
        "0060120V",
        "Coop de la Madeleine",
        "Julie",
        "Bonnet",
        "avance accordée : contrat de remboursement à signer",
        3,
        "FR6520041010050054567D00096",
        (
            (0, "attest", 150000),
            (0, "affiliate", None),
            (1, "request", 60000),
            (2, "approve", None),
        ),
    ),
    Story(
        "0060121W",
        "Coop Les Arènes",
        "Marc",
        "Lemoine",
        "lettre envoyée ; avance demandée, examinée par le trésorier de l'AD",
        6,
        "FR8920041010050064567E00054",
        (
            (0, "attest", 210000),
            (0, "affiliate", None),
            (1, "send", None),
            (5, "request", 120000),
        ),
    ),
    Story(
        "0060122X",
        "Coop du Port Lympia",
        "Chloé",
        "Garnier",
        "avance refusée : le motif de l'AD à lire",
        8,
        "FR1620041010050074567F00012",
        (
            (0, "attest", 160000),
            (0, "affiliate", None),
            (1, "send", None),
            (2, "request", 150000),
            (3, "reject", REJECTED),
        ),
    ),
    Story(
        "0060123Y",
        "Coop Les Orangers",
        "Paul",
        "Renaud",
        "contrat signé : l'AD fait le virement de l'avance",
        5,
        "FR4020041010050084567G00067",
        (
            (0, "attest", 95000),
            (0, "affiliate", None),
            (1, "send", None),
            (2, "request", 50000),
            (3, "approve", None),
            (4, "sign", None),
        ),
    ),
    Story(
        "0060124Z",
        "Coop du Ray",
        "Lucie",
        "Fabre",
        "solde reçu (signalé par Swan) : l'avance est remboursée",
        12,
        "FR6420041010050094567H00025",
        (
            (0, "attest", 180000),
            (0, "affiliate", None),
            (1, "send", None),
            (1, "request", 90000),
            (2, "approve", None),
            (2, "sign", None),
            (3, "disburse", None),
            (10, "swan_funds", 180000),
        ),
    ),
    Story(
        "0060125A",
        "Coop de Saint-Roch",
        "Antoine",
        "Masson",
        "solde reçu (1 650,00 €) différent du solde déclaré (1 800,00 €) : l'AD vérifie",
        9,
        "FR8820041010050104567I00080",
        ((0, "attest", 180000), (1, "send", None), (8, "swan_funds", 165000)),
    ),
    Story(
        "0060126B",
        "Coop Les Baumettes",
        "Émilie",
        "Roussel",
        "solde reçu, ancien compte clos",
        20,
        "FR6720041010050114567J00072",
        (
            (0, "attest", 132050),
            (1, "send", None),
            (15, "staff_funds", 132050),
            (18, "close", None),
        ),
    ),
    Story(
        "0060127C",
        "Coop du Vieux-Nice",
        "Nathalie",
        "Chevalier",
        "attestation attendue depuis plus de 21 jours (bloqué : à relancer)",
        23,
        "FR9120041010050124567K00030",
    ),
    Story(
        "0060128D",
        "Coop de Fabron",
        "Olivier",
        "Marchand",
        "avance non remboursée dans le délai de l'AD et solde jamais reçu (bloqués)",
        100,
        "FR1820041010050134567L00085",
        (
            (0, "attest", 140000),
            (0, "affiliate", None),
            (0, "request", 100000),
            (1, "send", None),
            (1, "approve", None),
            (1, "sign", None),
            (2, "disburse", None),
        ),
    ),
]


def load(
    rt: Runtime,
    run_pending: RunPending,
    stories: Sequence[Story] = STORIES,
    moves: Mapping[str, Callable[[Runtime, Engine, Context, Any], None]] = MOVES,
) -> None:
    """Each story at its own time (after the affiliation's price lists and the staff
    accounts exist); ``moves`` says what their moves do (the card's stories have
    theirs: ``coopflow.demo_cards``)."""
    now = rt.engine.clock.now()
    for story in stories:
        clock = MovableClock(start=now - timedelta(days=story.days_ago))
        engine = Engine(rt.db, rt.engine.definitions, clock=clock)
        coop_id = demo_banking.bank(rt, story.stage(), run_pending, invited_by=engine, then=engine)
        started = clock.now()
        for turn, (day, move, detail) in enumerate(story.moves):
            # Moves of one day half an hour apart: the history reads in its order.
            moment = started + timedelta(days=day, minutes=30 * turn)
            clock.advance(max(moment - clock.now(), timedelta(0)))
            at = Context(story.number, story.old_account, coop_id, run_pending)
            moves[move](rt, engine, at, detail)
            run_pending(rt, engine)


#: The portal logins of these stories: (email, password, what they see).
LOGINS = [
    (demo_banking._email(story.stage()), demo_banking.PASSWORD, story.sees) for story in STORIES
]
