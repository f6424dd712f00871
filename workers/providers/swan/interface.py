"""What coopflow asks of Swan (PROVIDERS.md « Swan »), whichever way it is reached: the
sandbox (``sandbox.py``), the real GraphQL client (``client.py``) or the manual path
(``manual.py``, staff record the outcomes in the back-office).

Every method raises :class:`~workers.providers.swan.errors.SwanRejected` (permanent:
a ``…Rejection`` payload, bad data) or
:class:`~workers.providers.swan.errors.SwanUnavailable` (transient: HTTP 5xx, 429,
timeout), never anything else for a provider failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from workflows.swan_transactions import Transaction


class IdentificationStatus(StrEnum):
    """Swan's ``SwanIdentificationStatus``."""

    STARTED = "Started"
    PENDING = "Pending"
    VALID = "Valid"
    INVALID = "Invalid"
    CANCELED = "Canceled"
    EXPIRED = "Expired"
    NOT_SUPPORTED = "NotSupported"


class MembershipStatus(StrEnum):
    """Swan's ``AccountMembershipStatus``."""

    CONSENT_PENDING = "ConsentPending"
    INVITATION_SENT = "InvitationSent"
    BINDING_USER_ERROR = "BindingUserError"
    ENABLED = "Enabled"
    SUSPENDED = "Suspended"
    DISABLED = "Disabled"


#: The fields of a ``BindingUserError`` status info, in Swan's names.
MATCH_ERRORS = (
    "firstNameMatchError",
    "lastNameMatchError",
    "birthDateMatchError",
    "phoneNumberMatchError",
    "emailVerifiedMatchError",
    "idVerifiedMatchError",
)


@dataclass(frozen=True)
class Identification:
    id: str
    status: IdentificationStatus
    created_at: datetime
    #: ``IdentificationInvalidReason`` codes of an ``Invalid`` one (``ExpiredDocument``…).
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Membership:
    """An account membership and its user's identifications, newest first."""

    id: str
    account_id: str
    status: MembershipStatus
    email: str
    #: The ``…MatchError`` fields that are true, when ``status`` is ``BindingUserError``.
    mismatches: tuple[str, ...] = ()
    identifications: tuple[Identification, ...] = ()

    def latest_since(self, moment: datetime | None) -> Identification | None:
        """The newest identification begun at or after ``moment`` (an attempt before a
        retry does not count for the new one)."""
        for identification in self.identifications:
            if moment is None or identification.created_at >= moment:
                return identification
        return None


@dataclass(frozen=True)
class NewMember:
    """The mandataire, as the membership restricts who may bind to it."""

    account_id: str | None
    email: str
    first_name: str
    last_name: str
    birth_date: date | None = None
    phone_number: str | None = None
    #: Lets the sandbox (and tests) tell the coop apart; the real API ignores it.
    coop_ref: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CardAddress:
    """Where Swan sends the physical card (``CompleteAddressInput``; lines ≤ 38
    characters, city ≤ 30, postal code ≤ 10: checked by the portal)."""

    line1: str
    city: str
    postal_code: str
    line2: str = ""
    country: str = "FRA"


@dataclass(frozen=True)
class CardOrder:
    """A physical card for the membership: printed on its card if it has one (Swan's
    ``printPhysicalCard``), else a new card with its physical card (``addCards``)."""

    membership_id: str
    address: CardAddress
    #: ``physicalCardCustomOptions.additionalPrintedLine`` (≤ 26 characters), if any.
    printed_line: str
    #: Where Swan sends the mandataire back after consenting (the portal's card page).
    consent_redirect_url: str


@dataclass(frozen=True)
class Card:
    """A card of the membership and its physical card (``None``: no physical card
    ordered). ``physical_status`` is Swan's ``PhysicalCardStatus``."""

    id: str
    membership_id: str
    physical_status: str | None = None
    consent_url: str | None = None
    tracking_number: str | None = None
    estimated_delivery: date | None = None
    pin_ready: bool = False

    @property
    def has_physical(self) -> bool:
        """A physical card Swan still makes or keeps (any status but ``Canceled``)."""
        return self.physical_status is not None and self.physical_status != "Canceled"


@dataclass(frozen=True)
class Beneficiary:
    """The coop's certified external account, as Swan keeps it (a trusted SEPA
    beneficiary of the coop's account)."""

    id: str
    iban: str
    name: str
    status: str


class Swan(Protocol):
    #: ``sandbox``, ``live`` or ``manual``: shown to staff beside what Swan says.
    mode: str

    def add_member(self, member: NewMember) -> Membership:
        """Create the account membership the mandataire will bind to.

        A membership of the same account for the same email (not ``Disabled``) is
        found and returned instead: a retried step, or one whose first call timed out
        after Swan created it, makes no second membership."""
        ...

    def membership(self, membership_id: str) -> Membership:
        """The membership now, with its user's identifications (the re-query of every
        webhook and every poll)."""
        ...

    def identification_url(self, membership: Membership, redirect_url: str) -> str | None:
        """Where the mandataire identifies (Swan's page, in its own tab); ``None`` on the
        manual path."""
        ...

    def certify_account(self, account_id: str | None, iban: str, holder: str) -> Beneficiary:
        """Tell Swan the coop's certified account; asked again it answers the same
        beneficiary (looked up by IBAN before adding)."""
        ...

    def cards(self, membership_id: str) -> list[Card]:
        """The membership's cards, each with its physical card (the read made before
        ordering: a card already printed is adopted, never ordered twice)."""
        ...

    def card(self, card_id: str) -> Card:
        """One card now (the re-query of ``Card.Updated`` and of the polls)."""
        ...

    def order_card(self, order: CardOrder) -> Card:
        """Order the physical card: Swan has no idempotency key, so the caller asks
        :meth:`cards` first; a card that already has one answers
        ``AlreadyValidPhysicalCardRejection`` (a :class:`SwanRejected` of that code)."""
        ...

    def transaction(self, transaction_id: str) -> Transaction:
        """A transaction now (the re-query of a ``Transaction.Booked`` webhook, made in
        the webhook's request: answered quickly or failed quickly, well inside the 10 s
        Swan waits). Its dataclass is the domain's (``workflows.swan_transactions``),
        which matches it to the coop's Banque Postale transfer."""
        ...
