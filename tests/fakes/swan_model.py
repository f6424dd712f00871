"""The in-memory Swan behind :class:`tests.fakes.swan_server.FakeSwan`: accounts,
memberships and their user's identifications, trusted SEPA beneficiaries, and how Swan's
partner API shows them (whole objects, in the schema's field names) for the root fields
the client asks: ``accountMembership``, ``account``, ``addAccountMembership``,
``addTrustedSepaBeneficiary``. Mutations check their input as Swan documents (required
fields, consent for rights beyond viewing, phone and IBAN formats) and answer its
rejections."""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MATCH_ERRORS = (
    "firstNameMatchError",
    "lastNameMatchError",
    "birthDateMatchError",
    "phoneNumberMatchError",
    "emailVerifiedMatchError",
    "idVerifiedMatchError",
)
_PERMISSIONS = (
    "canViewAccount",
    "canManageBeneficiaries",
    "canInitiatePayments",
    "canManageAccountMembership",
)


class GraphQLError(Exception):
    """Answered in GraphQL's ``errors`` (HTTP 200, ``data: null``)."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Identification:
    id: str
    status: str
    created_at: datetime
    reasons: tuple[str, ...] = ()
    process: str = "PVID"


@dataclass
class Membership:
    id: str
    account_id: str
    email: str
    status: str
    restricted_to: dict[str, Any]
    permissions: dict[str, bool]
    mismatches: tuple[str, ...] = ()
    user_id: str | None = None
    identifications: list[Identification] = field(default_factory=list)


@dataclass
class Beneficiary:
    id: str
    account_id: str
    iban: str
    name: str
    status: str = "ConsentPending"


@dataclass
class FakeCard:
    id: str
    membership_id: str
    #: The physical card (``None``: virtual only): its status, address, printed line,
    #: and the ToActivate fields once shipped.
    physical: dict[str, Any] | None = None


#: Swan's limits on a physical card's address and printed line.
_CARD_LIMITS = {"addressLine1": 38, "addressLine2": 38, "city": 30, "postalCode": 10}


@dataclass
class SwanModel:
    def __init__(self, *, accounts: tuple[str, ...], page_size: int) -> None:
        self.page_size = page_size
        self.accounts: set[str] = set(accounts)
        self.memberships: dict[str, Membership] = {}
        self.beneficiaries: dict[str, Beneficiary] = {}
        self.cards: dict[str, FakeCard] = {}
        #: Objects created by mutations, by kind (``memberships``, ``beneficiaries``,
        #: ``cards``, ``physical_cards``: every physical card made, reprints included).
        self.created: Counter[str] = Counter()
        #: Root field → handler(variables) → the field's value; other tests add theirs.
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "accountMembership": self._account_membership,
            "account": self._account,
            "addAccountMembership": self._add_account_membership,
            "addTrustedSepaBeneficiary": self._add_trusted_sepa_beneficiary,
            "card": self._card,
            "printPhysicalCard": self._print_physical_card,
            "addCards": self._add_cards,
        }
        self.lock = threading.RLock()
        self._ids = itertools.count(1)

    def open_account(self, account_id: str | None = None) -> str:
        with self.lock:
            account_id = account_id or f"acc_{next(self._ids)}"
            self.accounts.add(account_id)
            return account_id

    def identify(
        self, membership_id: str, status: str, *, reasons: tuple[str, ...] = (), at=None
    ) -> Identification:
        """The membership's user (bound on first call) makes an identification attempt."""
        with self.lock:
            membership = self.memberships[membership_id]
            membership.user_id = membership.user_id or f"usr_{next(self._ids)}"
            attempt = Identification(
                f"idf_{next(self._ids)}", status, at or datetime.now(UTC), tuple(reasons)
            )
            membership.identifications.append(attempt)
            return attempt

    def set_status(
        self, membership_id: str, status: str, *, mismatches: tuple[str, ...] = ()
    ) -> None:
        with self.lock:
            self.memberships[membership_id].status = status
            self.memberships[membership_id].mismatches = tuple(mismatches)

    def add_membership(self, account_id: str, email: str) -> str:
        """A membership Swan already has (the kyc steps made it)."""
        with self.lock:
            membership = Membership(f"mbr_{next(self._ids)}", account_id, email, "Enabled", {}, {})
            self.memberships[membership.id] = membership
            return membership.id

    def set_physical_status(self, card_id: str, status: str, **info: Any) -> None:
        """The card's physical card now ``status`` (``trackingNumber``… in ``info``)."""
        with self.lock:
            physical = self.cards[card_id].physical
            assert physical is not None
            physical.update(status=status, **info)

    def _account_membership(self, variables: dict[str, Any]) -> Any:
        found = self.memberships.get(variables.get("id", ""))
        if not found:
            return None
        cards = [_card_node(c) for c in self.cards.values() if c.membership_id == found.id]
        return {**_membership_node(found), "cards": _connection(cards, 0, len(cards))}

    def _card(self, variables: dict[str, Any]) -> Any:
        found = self.cards.get(variables.get("cardId", ""))
        return _card_node(found) if found else None

    def _print_physical_card(self, variables: dict[str, Any]) -> Any:
        given = _required(variables, "input", ("cardId", "address", "consentRedirectUrl"))
        card = self.cards.get(given["cardId"])
        if card is None:
            return _rejection("CardNotFoundRejection", "Card not found")
        if card.physical is not None and card.physical["status"] != "Canceled":
            return _rejection("AlreadyValidPhysicalCardRejection", "Already a valid card")
        invalid = _card_input(given["address"], given.get("physicalCardCustomOptions"))
        if invalid:
            return invalid
        card.physical = self._physical(given["address"], given.get("physicalCardCustomOptions"))
        return {
            "__typename": "PrintPhysicalCardSuccessPayload",
            "physicalCard": _physical_node(card.physical),
        }

    def _add_cards(self, variables: dict[str, Any]) -> Any:
        given = _required(variables, "input", ("cards", "consentRedirectUrl"))
        added = []
        for config in given["cards"]:
            if config.get("accountMembershipId") not in self.memberships:
                return _rejection("AccountMembershipNotAllowedRejection", "Not allowed")
            for name in ("withdrawal", "international", "nonMainCurrencyTransactions"):
                if not isinstance(config.get(name), bool):
                    raise GraphQLError(f'Field "{name}" of required type was not provided.')
            if not isinstance(config.get("spendingLimit"), dict):
                raise GraphQLError('Field "spendingLimit" of required type was not provided.')
            physical = config.get("physicalCard")
            if physical is not None:
                invalid = _card_input(
                    physical.get("deliveryAddress") or {}, physical.get("physicalCardCustomOptions")
                )
                if invalid:
                    return invalid
            added.append(config)
        cards = []
        for config in added:
            card = FakeCard(f"card_{next(self._ids)}", config["accountMembershipId"])
            physical = config.get("physicalCard")
            if physical is not None:
                card.physical = self._physical(
                    physical["deliveryAddress"], physical.get("physicalCardCustomOptions")
                )
            self.cards[card.id] = card
            self.created["cards"] += 1
            cards.append(_card_node(card))
        return {"__typename": "AddCardsSuccessPayload", "cards": cards}

    def _physical(self, address: dict[str, Any], options: Any) -> dict[str, Any]:
        self.created["physical_cards"] += 1
        return {
            "status": "ConsentPending",
            "consentUrl": f"https://consent.example/{next(self._ids)}",
            "address": dict(address),
            "additionalPrintedLine": (options or {}).get("additionalPrintedLine"),
        }

    def _account(self, variables: dict[str, Any]) -> Any:
        account_id = variables.get("accountId")
        if account_id not in self.accounts:
            return None
        search = (variables.get("search") or "").lower()
        statuses = variables.get("statuses")
        members = [
            m
            for m in self.memberships.values()
            if m.account_id == account_id
            and (statuses is None or m.status in statuses)
            and search in " ".join([m.email, m.id, *map(str, m.restricted_to.values())]).lower()
        ]
        trusted = [
            b
            for b in self.beneficiaries.values()
            if b.account_id == account_id and b.status != "Canceled"
        ]
        start = int(variables.get("after") or 0)
        page = trusted[start : start + self.page_size]
        return {
            "__typename": "Account",
            "id": account_id,
            "memberships": _connection([_membership_node(m) for m in members], 0, len(members)),
            "trustedBeneficiaries": _connection(
                [_beneficiary_node(b) for b in page], start, len(trusted)
            ),
        }

    def _add_account_membership(self, variables: dict[str, Any]) -> Any:
        given = _required(variables, "input", ("accountId", "email", "restrictedTo", *_PERMISSIONS))
        restricted = _required(given, "restrictedTo", ("firstName", "lastName"))
        if given["accountId"] not in self.accounts:
            return _rejection("ForbiddenRejection", "Forbidden")
        if "@" not in given["email"]:
            return _validation("email", "InvalidString", "Invalid email")
        phone = restricted.get("phoneNumber")
        if phone is not None and not re.fullmatch(r"\+\d{8,15}", phone):
            return _rejection("InvalidPhoneNumberRejection", "Invalid phone number")
        permissions = {p: bool(given.get(p)) for p in (*_PERMISSIONS, "canManageCards")}
        needs_consent = any(v for k, v in permissions.items() if k != "canViewAccount")
        if needs_consent and not given.get("consentRedirectUrl"):
            return _validation("consentRedirectUrl", "InvalidType", "Required")
        membership = Membership(
            id=f"mbr_{next(self._ids)}",
            account_id=given["accountId"],
            email=given["email"],
            status="ConsentPending" if needs_consent else "InvitationSent",
            restricted_to=dict(restricted),
            permissions=permissions,
        )
        self.memberships[membership.id] = membership
        self.created["memberships"] += 1
        return {
            "__typename": "AddAccountMembershipSuccessPayload",
            "accountMembership": _membership_node(membership),
        }

    def _add_trusted_sepa_beneficiary(self, variables: dict[str, Any]) -> Any:
        given = _required(variables, "input", ("accountId", "iban", "name", "consentRedirectUrl"))
        if given["accountId"] not in self.accounts:
            return {
                **_rejection("AccountNotFoundRejection", "Account not found"),
                "id": given["accountId"],
            }
        if not _iban_valid(given["iban"]):
            return _validation("iban", "InvalidString", "Invalid IBAN")
        beneficiary = Beneficiary(
            f"ben_{next(self._ids)}", given["accountId"], given["iban"], given["name"]
        )
        self.beneficiaries[beneficiary.id] = beneficiary
        self.created["beneficiaries"] += 1
        return {
            "__typename": "AddTrustedSepaBeneficiarySuccessPayload",
            "trustedBeneficiary": _beneficiary_node(beneficiary),
        }


def _membership_node(m: Membership) -> dict[str, Any]:
    info: dict[str, Any] = {
        "__typename": f"AccountMembership{m.status}StatusInfo",
        "status": m.status,
    }
    if m.status == "BindingUserError":
        info.update({name: name in m.mismatches for name in MATCH_ERRORS})
        info["restrictedTo"] = m.restricted_to
    user = None
    if m.user_id:
        newest = sorted(m.identifications, key=lambda i: i.created_at, reverse=True)
        user = {
            "id": m.user_id,
            "identifications": _connection(
                [_identification_node(i) for i in newest], 0, len(newest)
            ),
        }
    return {
        "__typename": "AccountMembership",
        "id": m.id,
        "accountId": m.account_id,
        "email": m.email,
        "statusInfo": info,
        "user": user,
        **m.permissions,
    }


def _card_input(address: dict[str, Any], options: Any) -> dict[str, Any] | None:
    """Swan's ValidationRejection of an address or printed line over its limits."""
    for name in ("addressLine1", "city", "postalCode", "country"):
        if not address.get(name):
            raise GraphQLError(f'Field "{name}" of required type was not provided.')
    for name, maximum in _CARD_LIMITS.items():
        if len(address.get(name) or "") > maximum:
            return _validation(name, "InvalidString", f"Max length {maximum}")
    if len((options or {}).get("additionalPrintedLine") or "") > 26:
        return _validation("additionalPrintedLine", "InvalidString", "Max length 26")
    return None


def _physical_node(physical: dict[str, Any]) -> dict[str, Any]:
    status = physical["status"]
    info: dict[str, Any] = {"__typename": f"PhysicalCard{status}StatusInfo", "status": status}
    if status == "ConsentPending":
        info["consent"] = {"consentUrl": physical["consentUrl"]}
    if status in ("ToActivate", "Renewed"):
        info.update(
            trackingNumber=physical.get("trackingNumber"),
            estimatedDeliveryDate=physical.get("estimatedDeliveryDate"),
            isPINReady=bool(physical.get("isPINReady")),
        )
    return {"statusInfo": info}


def _card_node(card: FakeCard) -> dict[str, Any]:
    return {
        "__typename": "Card",
        "id": card.id,
        "accountMembership": {"id": card.membership_id},
        "statusInfo": {"__typename": "CardEnabledStatusInfo", "status": "Enabled"},
        "physicalCard": _physical_node(card.physical) if card.physical else None,
    }


def _identification_node(i: Identification) -> dict[str, Any]:
    level: dict[str, Any] = {
        "__typename": f"{i.status}IdentificationLevelStatusInfo",
        "status": i.status,
    }
    if i.status == "Invalid":
        level["reasons"] = list(i.reasons)
    levels = {
        "expert": level,
        "qes": {
            "__typename": "NotSupportedIdentificationLevelStatusInfo",
            "status": "NotSupported",
        },
    }
    levels["pvid"] = level if i.process == "PVID" else levels["qes"]
    stamp = i.created_at.isoformat().replace("+00:00", "Z")
    return {
        "id": i.id,
        "status": i.status,
        "process": i.process,
        "createdAt": stamp,
        "updatedAt": stamp,
        "levels": levels,
    }


def _beneficiary_node(b: Beneficiary) -> dict[str, Any]:
    return {
        "__typename": "TrustedSepaBeneficiary",
        "id": b.id,
        "name": b.name,
        "label": b.name,
        "type": "Sepa",
        "iban": b.iban,
        "statusInfo": {"__typename": f"TrustedBeneficiary{b.status}StatusInfo", "status": b.status},
    }


def _connection(nodes: list[dict[str, Any]], start: int, total: int) -> dict[str, Any]:
    edges = [{"cursor": str(start + n + 1), "node": node} for n, node in enumerate(nodes)]
    end = start + len(nodes)
    return {
        "totalCount": total,
        "pageInfo": {
            "hasNextPage": end < total,
            "hasPreviousPage": start > 0,
            "startCursor": str(start) if nodes else None,
            "endCursor": str(end) if nodes else None,
        },
        "edges": edges,
    }


def _required(values: dict[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    given = values.get(name)
    if not isinstance(given, dict):
        raise GraphQLError(f'Variable "${name}" of required type was not provided.')
    missing = [k for k in keys if given.get(k) is None]
    if missing:
        raise GraphQLError(
            f'Variable "${name}" got invalid value: field "{missing[0]}" is required.'
        )
    return given


def _rejection(typename: str, message: str) -> dict[str, Any]:
    return {"__typename": typename, "message": message}


def _validation(path: str, code: str, message: str) -> dict[str, Any]:
    fields = [{"code": code, "message": message, "path": [path]}]
    return {**_rejection("ValidationRejection", "Validation failed"), "fields": fields}


def _iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1
