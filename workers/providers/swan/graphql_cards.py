"""The GraphQL documents of the coop's card, and the reading of their answers.

Names confirmed in Swan's partner schema (swan-io/swan-partner-frontend,
``scripts/graphql/dist/partner-schema.gql``):

- ``Query.card(cardId: ID!): Card`` and ``AccountMembership.cards(first, after,
  filters: CardFiltersInput): CardConnection``; ``Card { id accountMembership { id }
  statusInfo (CardConsentPendingStatusInfo { consent { consentUrl } }) physicalCard:
  PhysicalCard }``; ``PhysicalCard.statusInfo: PhysicalCardStatusInfo { status:
  PhysicalCardStatus }`` (``ConsentPending``, ``Processing``, ``ToActivate``,
  ``Activated``, ``Suspended``, ``Canceling``, ``Canceled``, ``ToRenew``, ``Renewed``),
  ``PhysicalCardConsentPendingStatusInfo { consent: Consent! { consentUrl } }``,
  ``PhysicalCardToActivateStatusInfo`` and ``PhysicalCardRenewedStatusInfo {
  estimatedDeliveryDate: DateTime trackingNumber: String isPINReady: Boolean! }``.
- ``Mutation.printPhysicalCard(input: PrintPhysicalCardInput!)`` (``cardId``,
  ``address: CompleteAddressInput! {addressLine1 addressLine2 city postalCode country:
  CCA3}``, ``choosePin``, ``consentRedirectUrl: String!``, ``physicalCardCustomOptions:
  PhysicalCardCustomOptionsForPrintInput {additionalPrintedLine}``) →
  ``PrintPhysicalCardSuccessPayload { physicalCard }`` or, among others,
  ``AlreadyValidPhysicalCardRejection``, ``CardNotFoundRejection``,
  ``ValidationRejection``.
- ``Mutation.addCards(input: AddCardsInput!)`` (``cards: [CardConfigInput!]!`` —
  ``accountMembershipId``, ``withdrawal``, ``international``,
  ``nonMainCurrencyTransactions``, ``eCommerce``, ``spendingLimit: SpendingLimitInput!
  {period amount {value currency}}``, ``physicalCard: PhysicalCardConfigInput
  {deliveryAddress physicalCardCustomOptions choosePin}`` —, ``consentRedirectUrl``) →
  ``AddCardsSuccessPayload { cards: [Card!]! }`` or its rejections.

« unconfirmed »: the coop card's spending limit and options (:data:`CARD_OPTIONS`: OCCE's
choice, not Swan's) and whether a project token may order a card without a user's
consent (Swan answers ``ConsentPending`` with the consent page: the mandataire's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workers.providers.swan.interface import Card, CardOrder
from workflows.formatting import paris

_CARD_FIELDS = """
fragment CardFields on Card {
  id
  accountMembership { id }
  statusInfo {
    __typename
    status
    ... on CardConsentPendingStatusInfo { consent { consentUrl } }
  }
  physicalCard {
    statusInfo {
      __typename
      status
      ... on PhysicalCardConsentPendingStatusInfo { consent { consentUrl } }
      ... on PhysicalCardToActivateStatusInfo {
        trackingNumber
        estimatedDeliveryDate
        isPINReady
      }
      ... on PhysicalCardRenewedStatusInfo {
        trackingNumber
        estimatedDeliveryDate
        isPINReady
      }
    }
  }
}
"""

_REJECTION_FIELDS = """
    ... on Rejection { message }
    ... on ValidationRejection { fields { code message path } }
"""

CARD = (
    """
query Card($cardId: ID!) {
  card(cardId: $cardId) { ...CardFields }
}
"""
    + _CARD_FIELDS
)

MEMBERSHIP_CARDS = (
    """
query MembershipCards($id: ID!, $after: String) {
  accountMembership(id: $id) {
    id
    cards(first: 50, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { ...CardFields } }
    }
  }
}
"""
    + _CARD_FIELDS
)

PRINT_PHYSICAL_CARD = (
    """
mutation PrintPhysicalCard($input: PrintPhysicalCardInput!) {
  printPhysicalCard(input: $input) {
    __typename
    ... on PrintPhysicalCardSuccessPayload { physicalCard { statusInfo { status } } }
"""
    + _REJECTION_FIELDS
    + """
  }
}
"""
)

ADD_CARDS = (
    """
mutation AddCards($input: AddCardsInput!) {
  addCards(input: $input) {
    __typename
    ... on AddCardsSuccessPayload { cards { ...CardFields } }
"""
    + _REJECTION_FIELDS
    + """
  }
}
"""
    + _CARD_FIELDS
)

#: The coop card's options when a new one is added (OCCE's choice, « unconfirmed »):
#: payments in France and online, no cash, 3 000 € a month.
CARD_OPTIONS: dict[str, Any] = {
    "withdrawal": False,
    "international": False,
    "nonMainCurrencyTransactions": False,
    "eCommerce": True,
    "spendingLimit": {"period": "Monthly", "amount": {"value": "3000", "currency": "EUR"}},
}


def address_input(order: CardOrder) -> dict[str, Any]:
    a = order.address
    given = {
        "addressLine1": a.line1,
        "city": a.city,
        "postalCode": a.postal_code,
        "country": a.country,
    }
    if a.line2:
        given["addressLine2"] = a.line2
    return given


def custom_options(order: CardOrder) -> dict[str, Any] | None:
    return {"additionalPrintedLine": order.printed_line} if order.printed_line else None


def print_input(card_id: str, order: CardOrder) -> dict[str, Any]:
    given: dict[str, Any] = {
        "cardId": card_id,
        "address": address_input(order),
        "choosePin": False,
        "consentRedirectUrl": order.consent_redirect_url,
    }
    options = custom_options(order)
    if options:
        given["physicalCardCustomOptions"] = options
    return given


def add_cards_input(order: CardOrder) -> dict[str, Any]:
    physical: dict[str, Any] = {"deliveryAddress": address_input(order), "choosePin": False}
    options = custom_options(order)
    if options:
        physical["physicalCardCustomOptions"] = options
    card = {"accountMembershipId": order.membership_id, **CARD_OPTIONS, "physicalCard": physical}
    return {"cards": [card], "consentRedirectUrl": order.consent_redirect_url}


def card_from(node: dict[str, Any]) -> Card:
    """A ``Card`` node (the fragment above) as the interface's :class:`Card`; a shape
    not asked for raises ``KeyError``/``TypeError``/``ValueError`` (the client's
    ``UnexpectedAnswer``)."""
    physical = node.get("physicalCard")
    membership = (node.get("accountMembership") or {}).get("id") or ""
    if not physical:
        return Card(id=node["id"], membership_id=membership)
    info = physical["statusInfo"]
    status = str(info["status"])
    consent = (info.get("consent") or {}).get("consentUrl")
    if consent is None and status == "ConsentPending":
        consent = ((node.get("statusInfo") or {}).get("consent") or {}).get("consentUrl")
    delivery = info.get("estimatedDeliveryDate")
    return Card(
        id=node["id"],
        membership_id=membership,
        physical_status=status,
        consent_url=consent,
        tracking_number=info.get("trackingNumber"),
        estimated_delivery=paris(datetime.fromisoformat(delivery)).date() if delivery else None,
        pin_ready=info.get("isPINReady") is True,
    )
