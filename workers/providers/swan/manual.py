"""The manual path (``COOPFLOW_SWAN_MODE=manual``): coopflow calls nobody, staff record
what happened in the back-office.

Some statuses reach OCCE only through AssoConnect or by phone (PROVIDERS.md). Here a
membership is a record kept in ``swan_sandbox_objects`` (kind ``manual_membership``) so
that the kyc steps run unchanged; its status stays ``InvitationSent`` and it has no
identification: staff's decision is the kyc case's (its ``validate`` and ``refuse``
triggers), never this class's. A certified account is recorded, status ``recorded``. No
transaction is read: staff record the Banque Postale balance they see arrive.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from workers.providers.swan.errors import SwanRejected
from workers.providers.swan.interface import (
    Beneficiary,
    Card,
    CardOrder,
    Membership,
    MembershipStatus,
    NewMember,
    Transaction,
)
from workers.providers.swan.sandbox_world import digest, insert_new
from workflows.engine.clock import Clock
from workflows.engine.db import Database
from workflows.models.banking import SandboxObject

MEMBERSHIP, BENEFICIARY = "manual_membership", "manual_beneficiary"


class ManualSwan:
    """Swan reached through staff: no network, a few local records (module docstring)."""

    mode = "manual"

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    def add_member(self, member: NewMember) -> Membership:
        """The coop's record for this email (the same one when asked again)."""
        if not member.email.strip():
            raise SwanRejected("Adhésion sans adresse email.", fields=("email",))
        owner = member.account_id or f"coop:{member.coop_ref}"
        email = member.email.strip()
        now = self.clock.now()
        with self.db.write() as session:
            membership_id = "man_mem_" + digest(f"{owner}|{email.casefold()}")
            insert_new(
                session,
                id=membership_id,
                kind=MEMBERSHIP,
                status=MembershipStatus.INVITATION_SENT.value,
                data={
                    "email": email,
                    "account_id": member.account_id or "",
                    "first_name": member.first_name,
                    "last_name": member.last_name,
                },
                created_at=now,
                updated_at=now,
            )
            return _membership(_row(session, membership_id, MEMBERSHIP))

    def membership(self, membership_id: str) -> Membership:
        with self.db.read() as session:
            return _membership(_row(session, membership_id, MEMBERSHIP))

    def identification_url(self, membership: Membership, redirect_url: str) -> str | None:
        return None  # nobody's page: staff check the identity and record it

    def certify_account(self, account_id: str | None, iban: str, holder: str) -> Beneficiary:
        """Recorded for staff to enter at the bank: ``recorded``, the same when asked again."""
        compact = "".join(iban.split()).upper()
        now = self.clock.now()
        with self.db.write() as session:
            beneficiary_id = "man_ben_" + digest(f"{account_id or ''}|{compact}")
            insert_new(
                session,
                id=beneficiary_id,
                kind=BENEFICIARY,
                parent_id=account_id,
                status="recorded",
                data={"iban": compact, "name": holder.strip()},
                created_at=now,
                updated_at=now,
            )
            row = _row(session, beneficiary_id, BENEFICIARY)
            return Beneficiary(row.id, row.data["iban"], row.data["name"], row.status)

    def transaction(self, transaction_id: str) -> Transaction:
        """Refused for good: on the manual path an event is kept with this reason, and
        staff record the funds received in the back-office."""
        raise SwanRejected(
            "Suivi manuel : coopflow ne lit pas les virements chez Swan ; l'AD enregistre "
            "le solde reçu dans le dossier.",
            code="ManualPath",
        )

    def cards(self, membership_id: str) -> list[Card]:
        raise _cards_refused()

    def card(self, card_id: str) -> Card:
        raise _cards_refused()

    def order_card(self, order: CardOrder) -> Card:
        raise _cards_refused()


#: The card on the manual path: staff order it at the bank and record its progress.
def _cards_refused() -> SwanRejected:
    return SwanRejected(
        "Suivi manuel : coopflow ne commande pas la carte chez Swan ; l'AD la commande et "
        "enregistre son suivi dans le dossier.",
        code="ManualPath",
    )


def _row(session: Session, object_id: str, kind: str) -> SandboxObject:
    row = session.get(SandboxObject, object_id)
    if row is None or row.kind != kind:
        raise SwanRejected(
            f"Suivi manuel : aucun enregistrement {object_id}.", code="NotFoundRejection"
        )
    return row


def _membership(row: SandboxObject) -> Membership:
    return Membership(
        id=row.id,
        account_id=row.data.get("account_id", ""),
        status=MembershipStatus(row.status),
        email=row.data["email"],
    )
