"""The simulated Swan of the embedded mode, the demo and the tests (``COOPFLOW_SWAN_MODE``
``sandbox``, the default).

Its world is kept in ``swan_sandbox_objects`` (:mod:`.sandbox_world`), so the web
process (the identification page of ``coopflow/swan_simulator.py``), workers in other
processes and the scheduler all see the same bank: an account per coop, the account
memberships, their identifications, the trusted beneficiaries, the transactions (La
Banque Postale's transfer of a coop's old balance: ``SandboxSwan.receive_transfer``), and
the outage switch of the fault suite. Like a real provider it fails: every API call can
be slowed, answered HTTP 500 or 429, or time out after Swan did the work, at the rates of
the settings; an outage makes every call fail until a given time.
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlencode

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy.orm import Session

import workers.providers.swan.sandbox_cards as cards
import workers.providers.swan.sandbox_world as world
from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.graphql import transaction_from
from workers.providers.swan.interface import (
    Beneficiary,
    Card,
    CardOrder,
    Membership,
    MembershipStatus,
    NewMember,
    Transaction,
)
from workers.providers.swan.sandbox_world import (
    NAME,
    OUTCOMES,
    insert_new,
    membership_of,
    outage_until,
    row_of,
    set_outage,
)
from workflows.engine.clock import Clock
from workflows.engine.db import Database
from workflows.formatting import datetime_fr
from workflows.models.banking import SandboxObject

__all__ = ["OUTCOMES", "Person", "SandboxSwan", "outage_until", "set_outage"]

T = TypeVar("T")

#: ``projectId`` of the sandbox's webhook events.
PROJECT_ID = "sandbox"
#: What a simulated 429 asks to wait, in seconds.
RETRY_AFTER_SECONDS = 1.0
#: Who sends a coop its old balance, as Swan names the debtor of the transfer.
BANQUE_POSTALE = "LA BANQUE POSTALE"


@dataclass(frozen=True)
class Person:
    """Who a membership expects, as Swan's identification page shows it."""

    first_name: str
    last_name: str
    email: str
    birth_date: date | None
    membership: Membership


class SandboxSwan:
    """A faithful simulator of the Swan partner API (see the module's docstring).

    ``rng`` draws the faults (seeded in tests); ``sleep`` waits the latency. A timeout
    happens after the work, as when the request reached Swan and its answer was lost:
    the caller gets ``SwanUnavailable(uncertain=True)`` and must find out what exists
    (it waits no ``swan_timeout_seconds``: tests stay fast). ``identification_url``,
    :meth:`person` and :meth:`simulate` are no API call and never fail."""

    mode = "sandbox"

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        base_url: str,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        too_many_rate: float = 0.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db, self.clock, self.base_url = db, clock, base_url.rstrip("/")
        self.latency_ms = latency_ms
        self.rates = (("error", error_rate), ("too_many", too_many_rate), ("timeout", timeout_rate))
        self.rng = rng or random.Random()
        self.sleep = sleep
        self._outage_turns = itertools.count()

    # The API --------------------------------------------------------------------------

    def add_member(self, member: NewMember) -> Membership:
        return self._call(lambda: self._add_member(member))

    def membership(self, membership_id: str) -> Membership:
        def read() -> Membership:
            with self.db.read() as session:
                return membership_of(session, row_of(session, membership_id, world.MEMBERSHIP))

        return self._call(read)

    def identification_url(self, membership: Membership, redirect_url: str) -> str | None:
        query = urlencode({"redirect": redirect_url})
        return f"{self.base_url}/sandbox/swan/identification/{membership.id}?{query}"

    def certify_account(self, account_id: str | None, iban: str, holder: str) -> Beneficiary:
        return self._call(lambda: self._certify(account_id, iban, holder))

    def cards(self, membership_id: str) -> list[Card]:
        def read() -> list[Card]:
            with self.db.read() as session:
                return cards.cards(session, membership_id, self.base_url)

        return self._call(read)

    def card(self, card_id: str) -> Card:
        def read() -> Card:
            with self.db.write() as session:  # Swan's progress since: printed, shipped
                row = row_of(session, card_id, cards.CARD)
                cards.catch_up(session, card_id, self.clock.now())
                return cards.card_of(session, row, self.base_url)

        return self._call(read)

    def order_card(self, order: CardOrder) -> Card:
        def write() -> Card:
            with self.db.write() as session:
                return cards.order(session, order, self.clock.now(), self.base_url)

        return self._call(write)

    def simulate_card(self, card_id: str, status: str) -> list[dict[str, str]]:
        """The card's physical card moved to ``status`` (the mandataire consented or
        activated it, Swan printed, shipped, suspended it…: :mod:`.sandbox_cards`); the
        ``Card.Updated`` event Swan sends, none when it was there already. No API call."""
        now = self.clock.now()
        with self.db.write() as session:
            moved = cards.move(session, card_id, status, now)
        return [self._event(cards.CARD_UPDATED, card_id, now)] if moved else []

    def advance_cards(self) -> list[dict[str, str]]:
        """Swan's own progress: the cards printed long enough ago are shipped; their
        events."""
        now = self.clock.now()
        with self.db.write() as session:
            moved = cards.advance(session, now)
        return [self._event(cards.CARD_UPDATED, card_id, now) for card_id in moved]

    def transaction(self, transaction_id: str) -> Transaction:
        def read() -> Transaction:
            with self.db.read() as session:
                row = row_of(session, transaction_id, world.TRANSACTION)
                return transaction_from(world.transaction_node(row))

        return self._call(read)

    # What the person does on Swan's page ----------------------------------------------

    def person(self, membership_id: str) -> Person | None:
        """The membership and whom it expects; ``None`` for an id Swan does not know."""
        with self.db.read() as session:
            row = session.get(SandboxObject, membership_id)
            if row is None or row.kind != world.MEMBERSHIP:
                return None
            birth = row.data.get("birth_date")
            return Person(
                first_name=row.data["first_name"],
                last_name=row.data["last_name"],
                email=row.data["email"],
                birth_date=date.fromisoformat(birth) if birth else None,
                membership=membership_of(session, row),
            )

    def simulate(
        self,
        membership_id: str,
        outcome: str,
        *,
        reasons: Iterable[str] = (),
        fields: Iterable[str] = (),
    ) -> list[dict[str, str]]:
        """Apply what the person (or Swan's reviewers) did: ``started`` (a new
        identification), ``pending`` (documents sent), ``valid`` (membership Enabled),
        ``invalid`` (with ``IdentificationInvalidReason`` codes, ``ExpiredDocument`` by
        default), ``expired``, ``canceled``, ``binding_error`` (the identity is valid
        but its ``fields``, of ``MATCH_ERRORS``, differ from what the membership expects).

        ``pending``, ``valid``, ``invalid`` and ``binding_error`` act on the open
        identification, begun now if there is none (the person went through quickly).
        Returns the webhook events Swan sends, one per change; a move Swan would not
        allow raises :class:`SwanRejected` and changes nothing."""
        reasons, fields = tuple(reasons), tuple(fields)
        world.check_move(outcome, reasons, fields)
        with self.db.write() as session:
            row = row_of(session, membership_id, world.MEMBERSHIP, lock=True)
            now = self.clock.now()
            changes = world.apply_move(session, row, outcome, reasons, fields, now)
            if changes:
                row.updated_at = now
        return [self._event(kind, membership_id, now) for kind in changes]

    # What the bank's other customers do ------------------------------------------------

    def receive_transfer(
        self,
        account_id: str,
        amount_cents: int,
        *,
        debtor: str = BANQUE_POSTALE,
        debtor_iban: str | None = None,
        reference: str = "",
        label: str | None = None,
    ) -> list[dict[str, str]]:
        """A SEPA credit transfer arriving on the account, booked at once (Swan's Event
        Simulator, « receive an incoming transfer »). Returns the ``Transaction.Booked``
        event Swan sends, to deliver as the webhook would; no API call, never fails (an
        account Swan does not know is refused, nothing kept)."""
        return self.simulate_transaction(
            account_id,
            amount_cents,
            debtor=debtor,
            debtor_iban=debtor_iban,
            reference=reference,
            label=label,
        )

    def simulate_transaction(
        self,
        account_id: str,
        amount_cents: int,
        *,
        side: str = "Credit",
        kind: str = "SepaCreditTransferIn",
        status: str = "Booked",
        currency: str = "EUR",
        debtor: str = BANQUE_POSTALE,
        debtor_iban: str | None = None,
        reference: str = "",
        label: str | None = None,
    ) -> list[dict[str, str]]:
        """Any transaction of the account, kept as Swan answers ``transaction(id)``
        (``kind`` is its ``type``: ``SepaCreditTransferIn``, ``CardOutDebit``…; the
        amount written as Swan's decimal string); the event of its ``status``."""
        now = self.clock.now()
        if label is None:
            label = f"VIR SEPA {debtor} {reference}".strip()
        with self.db.write() as session:
            row_of(session, account_id, world.ACCOUNT)
            row = SandboxObject(
                id=f"sbx_txn_{secrets.token_hex(8)}",
                kind=world.TRANSACTION,
                parent_id=account_id,
                status=status,
                data={
                    "type": kind,
                    "side": side,
                    "amount": {"value": f"{Decimal(amount_cents) / 100:.2f}", "currency": currency},
                    "reference": reference,
                    "label": label,
                    "counterparty": debtor,
                    "executionDate": _swan_time(now),
                    "debtor": {"name": debtor, "IBAN": debtor_iban},
                },
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            transaction_id = row.id
        event = world.TRANSACTION_EVENTS.get(status)
        return [self._event(event, transaction_id, now)] if event else []

    # Inside ---------------------------------------------------------------------------

    def _call(self, work: Callable[[], T]) -> T:
        """``work`` as one API call: slowed, failed before it, or timed out after it."""
        if self.latency_ms:
            self.sleep(self.latency_ms / 1000)
        fault, why = self._fault()
        if fault == "error":
            raise SwanUnavailable(f"{NAME} a répondu HTTP 500 ({why}).")
        if fault == "too_many":
            raise SwanUnavailable(
                f"{NAME} a répondu HTTP 429 : trop de requêtes ({why}).",
                retry_after=RETRY_AFTER_SECONDS,
            )
        result = work()
        if fault == "timeout":
            raise SwanUnavailable(
                f"{NAME} n'a pas répondu à temps ({why}) : la demande a pu être traitée.",
                uncertain=True,
            )
        return result

    def _fault(self) -> tuple[str | None, str]:
        """The fault of this call and why, as its message says it. During an outage
        calls alternate between a 500 and a timeout after the work."""
        until = outage_until(self.db)
        if until is not None and self.clock.now() < until:
            fault = "error" if next(self._outage_turns) % 2 == 0 else "timeout"
            return fault, f"panne simulée jusqu'au {datetime_fr(until)}"
        draw = self.rng.random()
        for fault, rate in self.rates:
            if draw < rate:
                return fault, "panne simulée"
            draw -= rate
        return None, ""

    def _add_member(self, member: NewMember) -> Membership:
        missing = [
            name
            for name, value in (
                ("email", member.email),
                ("restrictedTo.firstName", member.first_name),
                ("restrictedTo.lastName", member.last_name),
            )
            if not value.strip()
        ]
        if missing or "@" not in member.email:
            raise SwanRejected(
                f"{NAME} : l'adhésion demande une adresse email, un prénom et un nom.",
                code="ValidationRejection",
                fields=tuple(missing) or ("email",),
            )
        now = self.clock.now()
        with self.db.write() as session:
            account_id = self._account(session, member, now)
            # One membership added at a time per account: two deliveries of one step
            # running together find each other's.
            row_of(session, account_id, world.ACCOUNT, lock=True)
            email = member.email.strip().casefold()
            for row in world.children(session, account_id, world.MEMBERSHIP):
                disabled = row.status == MembershipStatus.DISABLED
                if row.data["email"].casefold() == email and not disabled:
                    return membership_of(session, row)
            row = SandboxObject(
                id=f"sbx_mem_{secrets.token_hex(8)}",
                kind=world.MEMBERSHIP,
                parent_id=account_id,
                status=MembershipStatus.INVITATION_SENT.value,
                data={
                    "email": member.email.strip(),
                    "first_name": member.first_name.strip(),
                    "last_name": member.last_name.strip(),
                    "birth_date": member.birth_date.isoformat() if member.birth_date else None,
                    "phone_number": member.phone_number,
                    "mismatches": [],
                },
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return membership_of(session, row)

    def _account(self, session: Session, member: NewMember, now: datetime) -> str:
        """The coop's account: the one named, else the coop's, opened on first use."""
        if member.account_id:
            return row_of(session, member.account_id, world.ACCOUNT).id
        if not member.coop_ref:
            raise SwanRejected(
                f"{NAME} : aucun compte indiqué pour cette adhésion.",
                code="ValidationRejection",
                fields=("accountId",),
            )
        account_id = "sbx_acc_" + world.digest(member.coop_ref)
        insert_new(
            session,
            id=account_id,
            kind=world.ACCOUNT,
            status="Opened",
            data={"coop_ref": member.coop_ref},
            created_at=now,
            updated_at=now,
        )
        return account_id

    def _certify(self, account_id: str | None, iban: str, holder: str) -> Beneficiary:
        if not account_id:
            raise SwanRejected(
                f"{NAME} : aucun compte indiqué pour ce bénéficiaire.",
                code="ValidationRejection",
                fields=("accountId",),
            )
        try:
            compact = IBAN(iban).compact
        except SchwiftyException:
            raise SwanRejected(
                f"{NAME} : IBAN refusé.", code="ValidationRejection", fields=("iban",)
            ) from None
        if not holder.strip():
            raise SwanRejected(
                f"{NAME} : le nom du bénéficiaire manque.",
                code="ValidationRejection",
                fields=("name",),
            )
        now = self.clock.now()
        with self.db.write() as session:
            row_of(session, account_id, world.ACCOUNT)
            # Looked up by account and IBAN before adding: asked twice, the same one.
            beneficiary_id = "sbx_ben_" + world.digest(f"{account_id}|{compact}")
            insert_new(
                session,
                id=beneficiary_id,
                kind=world.BENEFICIARY,
                parent_id=account_id,
                status="Enabled",
                data={"iban": compact, "name": holder.strip()},
                created_at=now,
                updated_at=now,
            )
            row = row_of(session, beneficiary_id, world.BENEFICIARY)
            return Beneficiary(row.id, row.data["iban"], row.data["name"], row.status)

    def _event(self, kind: str, resource_id: str, now: datetime) -> dict[str, str]:
        return {
            "eventType": kind,
            "eventId": f"sbx_evt_{uuid.uuid4().hex}",
            "eventDate": _swan_time(now),
            "projectId": PROJECT_ID,
            "resourceId": resource_id,
        }


def _swan_time(moment: datetime) -> str:
    """As Swan writes a moment: ``2026-09-07T07:30:00.000Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
