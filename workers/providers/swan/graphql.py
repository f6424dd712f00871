"""The GraphQL documents the real client sends to Swan's partner API, and the reading of
their answers into the interface's dataclasses.

Names confirmed in Swan's partner schema (swan-io/swan-partner-frontend,
``scripts/graphql/dist/partner-schema.gql``, July 2026) and docs (swan-io/docs):

- ``Query.accountMembership(id: ID!): AccountMembership`` with ``id``, ``accountId``,
  ``email``, ``statusInfo { status }`` (interface ``AccountMembershipStatusInfo``) and
  ``... on AccountMembershipBindingUserErrorStatusInfo { firstNameMatchError
  lastNameMatchError birthDateMatchError phoneNumberMatchError emailVerifiedMatchError
  idVerifiedMatchError }``; ``user: User`` (null until someone binds).
- ``User.identifications(first, orderBy: {field: createdAt, direction: Desc})`` →
  ``IdentificationConnection { edges { node: Identification } }``; ``Identification``
  has ``id: String!``, ``status: SwanIdentificationStatus!``, ``createdAt``, ``levels:
  IdentificationLevelStatusesInfo { expert qes pvid }``, each the union
  ``IdentificationLevelStatusInfo`` whose ``InvalidIdentificationLevelStatusInfo`` has
  ``reasons: [IdentificationInvalidReason!]`` (so an identification's reasons are the
  union of its invalid levels'). ``User.identificationLevels`` only holds booleans.
- ``Query.account(accountId: ID!)``: ``memberships(first, filters:
  MembershipsFilterInput {search, status})`` (``filters.email`` is deprecated for
  ``search``, which also matches names and ids: the email is compared here) and
  ``trustedBeneficiaries(first, after, filters: TrustedBeneficiaryFiltersInput {status,
  type})`` → ``TrustedBeneficiary`` (interface) / ``TrustedSepaBeneficiary { iban }``,
  ``statusInfo { status: TrustedBeneficiaryStatus (ConsentPending|Enabled|Canceled) }``;
  no filter by IBAN exists, so the pages are read and compared here.
- ``Mutation.addAccountMembership(input: AddAccountMembershipInput!)`` (``accountId``,
  ``email``, ``restrictedTo: RestrictedToInput {firstName lastName birthDate
  phoneNumber}``, ``canViewAccount``, ``canManageBeneficiaries``, ``canInitiatePayments``,
  ``canManageAccountMembership``, ``canManageCards``, ``consentRedirectUrl``,
  ``language: AccountLanguage``) → ``AddAccountMembershipSuccessPayload
  { accountMembership }`` or ``BadAccountStatusRejection``, ``ForbiddenRejection``,
  ``InvalidPhoneNumberRejection``, ``MissingPhoneNumberRestrictionRejection``,
  ``PermissionCannotBeGrantedRejection``, ``ValidationRejection { fields { code message
  path } }``; every rejection implements ``Rejection { message }``.
- ``Mutation.addTrustedSepaBeneficiary(input: AddTrustedSepaBeneficiaryInput!)``
  (``accountId``, ``iban``, ``name``, ``consentRedirectUrl: String!``) →
  ``AddTrustedSepaBeneficiarySuccessPayload { trustedBeneficiary }`` or
  ``ForbiddenRejection``, ``AccountNotFoundRejection``, ``ValidationRejection``,
  ``InternalErrorRejection``.

- ``Query.transaction(id: ID!): Transaction!`` (« restricted to a Project access
  token »), the interface ``Transaction`` with ``id``, ``type: TransactionTypeEnum!``
  (``SepaCreditTransferIn``, ``SepaInstantCreditTransferIn``…), ``side: TransactionSide!``
  (``Credit``|``Debit``), ``amount: Amount! { value: AmountValue! currency }`` (a decimal
  string: « 1056 », « 5768.2 », « -1.50 »), ``reference: String!``, ``label: String!``,
  ``counterparty: String!``, ``executionDate: DateTime!``, ``statusInfo:
  TransactionStatusInfo! { status: TransactionStatus! }`` (``Booked``, ``Pending``,
  ``Rejected``, ``Canceled``, ``Upcoming``, ``Released``, ``Deferred``…) and ``account:
  Account { id }``; ``... on SEPACreditTransferTransaction { debtor:
  SEPACreditTransferDebtor! { name maskedIBAN IBAN BIC } }`` (``IBAN`` nullable). An
  unknown id: ``TransactionNotFoundRejection`` exists in the schema, but the query is
  not a union, so it comes back in ``errors`` (« unconfirmed »: its code).

Swan has no « certify »: the coop's certified account becomes a trusted SEPA beneficiary
of its Swan account (``ConsentPending`` until a member consents). Considered and left:
``addExternalAccount`` (an account holder's external account, project token allowed,
``ExternalAccountAlreadyExistsRejection`` on a duplicate) is Account Funding's and
requires the BIC, the account's opening date and more. ``InternalErrorRejection`` is
Swan failing, not refusing: transient here, unlike every other rejection.

« unconfirmed »: that a *project* token may call ``addAccountMembership`` and
``addTrustedSepaBeneficiary`` at all. Swan lists both as sensitive operations (the
consent page: a user's consent, or a project token impersonating a user with the
``x-swan-user-id`` header); the schema says ``addTrustedSepaBeneficiary`` is
« restricted to an User access token ». Expect a ``ForbiddenRejection`` (a permanent
refusal: the manual path) until OCCE's Swan project is set up for it. Also unconfirmed:
the path format inside ``ValidationRejection.fields`` and the ``extensions.code`` values
of Swan's GraphQL errors (the GraphQL spec leaves them free; Swan's docs give none).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.interface import (
    MATCH_ERRORS,
    Beneficiary,
    Identification,
    IdentificationStatus,
    Membership,
    MembershipStatus,
)
from workflows.formatting import paris
from workflows.processes.iban.rib_checks import compact, mask_iban
from workflows.swan_transactions import Transaction

#: How many identifications a membership read brings back (newest first).
IDENTIFICATIONS_READ = 20

_MEMBERSHIP_FIELDS = f"""
fragment MembershipFields on AccountMembership {{
  id
  accountId
  email
  statusInfo {{
    __typename
    status
    ... on AccountMembershipBindingUserErrorStatusInfo {{
      {" ".join(MATCH_ERRORS)}
    }}
  }}
  user {{
    id
    identifications(
      first: {IDENTIFICATIONS_READ}
      orderBy: {{field: createdAt, direction: Desc}}
    ) {{
      edges {{
        node {{
          id
          status
          createdAt
          levels {{
            expert {{ ... on InvalidIdentificationLevelStatusInfo {{ reasons }} }}
            qes {{ ... on InvalidIdentificationLevelStatusInfo {{ reasons }} }}
            pvid {{ ... on InvalidIdentificationLevelStatusInfo {{ reasons }} }}
          }}
        }}
      }}
    }}
  }}
}}
"""

_REJECTION_FIELDS = """
    ... on Rejection { message }
    ... on ValidationRejection { fields { code message path } }
"""

MEMBERSHIP = (
    """
query AccountMembership($id: ID!) {
  accountMembership(id: $id) { ...MembershipFields }
}
"""
    + _MEMBERSHIP_FIELDS
)

MEMBERSHIPS_BY_EMAIL = (
    """
query AccountMembershipsByEmail(
  $accountId: ID!
  $search: String!
  $statuses: [AccountMembershipStatus!]
) {
  account(accountId: $accountId) {
    id
    memberships(first: 100, filters: {search: $search, status: $statuses}) {
      edges { node { ...MembershipFields } }
    }
  }
}
"""
    + _MEMBERSHIP_FIELDS
)

ADD_MEMBERSHIP = (
    """
mutation AddAccountMembership($input: AddAccountMembershipInput!) {
  addAccountMembership(input: $input) {
    __typename
    ... on AddAccountMembershipSuccessPayload { accountMembership { ...MembershipFields } }
"""
    + _REJECTION_FIELDS
    + """
  }
}
"""
    + _MEMBERSHIP_FIELDS
)

_BENEFICIARY_FIELDS = """
  __typename
  id
  name
  statusInfo { status }
  ... on TrustedSepaBeneficiary { iban }
"""

TRUSTED_BENEFICIARIES = (
    """
query TrustedSepaBeneficiaries($accountId: ID!, $after: String) {
  account(accountId: $accountId) {
    id
    trustedBeneficiaries(
      first: 100
      after: $after
      filters: {type: [Sepa], status: [ConsentPending, Enabled]}
    ) {
      pageInfo { hasNextPage endCursor }
      edges { node {"""
    + _BENEFICIARY_FIELDS
    + """} }
    }
  }
}
"""
)

ADD_TRUSTED_BENEFICIARY = (
    """
mutation AddTrustedSepaBeneficiary($input: AddTrustedSepaBeneficiaryInput!) {
  addTrustedSepaBeneficiary(input: $input) {
    __typename
    ... on AddTrustedSepaBeneficiarySuccessPayload { trustedBeneficiary {"""
    + _BENEFICIARY_FIELDS
    + """} }
"""
    + _REJECTION_FIELDS
    + """
  }
}
"""
)

TRANSACTION = """
query Transaction($id: ID!) {
  transaction(id: $id) {
    __typename
    id
    type
    side
    reference
    label
    counterparty
    executionDate
    amount { value currency }
    statusInfo { status }
    account { id }
    ... on SEPACreditTransferTransaction { debtor { name IBAN } }
  }
}
"""

#: Memberships a retried ``add_member`` takes up again; a ``Disabled`` one is final.
LIVE_MEMBERSHIP_STATUSES = [s.value for s in MembershipStatus if s is not MembershipStatus.DISABLED]

#: ``NotStarted`` is deprecated in favour of ``Started`` but may still come back.
_IDENTIFICATION_ALIASES = {"NotStarted": IdentificationStatus.STARTED}


#: ``extensions.code`` of GraphQL errors that are Swan's own trouble, not the request's
#: (« unconfirmed »: Apollo-style codes; Swan documents none).
SWAN_SIDE_CODES = frozenset(
    {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "GATEWAY_TIMEOUT", "TIMEOUT"}
)
UNAUTHENTICATED_CODES = frozenset({"UNAUTHENTICATED", "UNAUTHORIZED"})
#: The one rejection that is Swan failing rather than refusing.
SWAN_SIDE_REJECTIONS = frozenset({"InternalErrorRejection"})
_IBAN_LIKE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


class UnexpectedAnswer(ValueError):
    """Swan's answer does not have the shape the documents above ask for."""


class Unauthenticated(Exception):
    """Swan refused the token (HTTP 401/403 or an ``UNAUTHENTICATED`` error)."""


def raise_for_errors(errors: Any, operation: str, *, uncertain: bool) -> None:
    """GraphQL's ``errors``: the request's fault (permanent) unless Swan says it is its own."""
    if not errors:
        return
    if not isinstance(errors, list):
        errors = [errors]
    errors = [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
    codes = {str((e.get("extensions") or {}).get("code", "")).upper() for e in errors}
    if codes & UNAUTHENTICATED_CODES:
        raise Unauthenticated
    text = scrub("; ".join(str(e.get("message", "")) for e in errors))
    if codes & SWAN_SIDE_CODES:
        raise SwanUnavailable(f"Swan en difficulté : {text}", uncertain=uncertain)
    raise SwanRejected(
        f"Swan refuse la requête {operation} : {text}",
        code=next(iter(sorted(codes - {""})), "GraphQLError"),
    )


def payload_of(data: dict[str, Any], field: str, operation: str) -> dict[str, Any]:
    """A mutation's success payload; its ``…Rejection`` raised as :class:`SwanRejected`."""
    payload = data.get(field)
    if not isinstance(payload, dict):
        raise SwanUnavailable(f"Swan n'a pas répondu à {operation}", uncertain=True)
    kind = str(payload.get("__typename", ""))
    message = scrub(payload.get("message") or kind)
    if kind in SWAN_SIDE_REJECTIONS:
        raise SwanUnavailable(f"Swan en difficulté : {message}", uncertain=True)
    if kind.endswith("Rejection"):
        fields = tuple(
            f"{'.'.join(item.get('path') or ())} : {scrub(item.get('message', ''))}"
            for item in payload.get("fields") or ()
        )
        raise SwanRejected(f"Swan refuse : {message}", code=kind, fields=fields)
    return payload


def scrub(text: Any) -> str:
    """Swan's own words, with any IBAN they quote masked (they end up in logs)."""
    return _IBAN_LIKE.sub(lambda m: mask_iban(m.group(0)), str(text))


def membership_from(node: dict[str, Any]) -> Membership:
    try:
        info = node["statusInfo"]
        status = MembershipStatus(info["status"])
        user = node.get("user") or {}
        edges = (user.get("identifications") or {}).get("edges") or []
        identifications = sorted(
            (identification_from(edge["node"]) for edge in edges),
            key=lambda i: i.created_at,
            reverse=True,
        )
        return Membership(
            id=node["id"],
            account_id=node["accountId"],
            status=status,
            email=node["email"],
            mismatches=tuple(name for name in MATCH_ERRORS if info.get(name) is True),
            identifications=tuple(identifications),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnexpectedAnswer(f"adhésion illisible : {exc!r}") from exc


def identification_from(node: dict[str, Any]) -> Identification:
    raw = node["status"]
    status = _IDENTIFICATION_ALIASES.get(raw) or IdentificationStatus(raw)
    reasons: list[str] = []
    for level in (node.get("levels") or {}).values():
        for reason in (level or {}).get("reasons") or ():
            if reason not in reasons:
                reasons.append(reason)
    return Identification(
        id=node["id"],
        status=status,
        created_at=datetime.fromisoformat(node["createdAt"]),
        reasons=tuple(reasons),
    )


def beneficiary_from(node: dict[str, Any]) -> Beneficiary:
    try:
        return Beneficiary(
            id=node["id"],
            iban=node["iban"],
            name=node["name"],
            status=node["statusInfo"]["status"],
        )
    except (KeyError, TypeError) as exc:
        raise UnexpectedAnswer(f"bénéficiaire illisible : {exc!r}") from exc


def transaction_from(node: dict[str, Any]) -> Transaction:
    """A transaction as Swan answers it (the sandbox keeps its own in the same shape)."""
    try:
        amount = node["amount"]
        debtor = node.get("debtor") or {}
        iban = debtor.get("IBAN")
        return Transaction(
            id=node["id"],
            account_id=(node.get("account") or {}).get("id"),
            type=node["type"],
            side=node["side"],
            status=node["statusInfo"]["status"],
            amount_cents=cents_of(amount["value"]),
            currency=amount["currency"],
            reference=node.get("reference") or "",
            label=node.get("label") or "",
            debtor_name=debtor.get("name") or node.get("counterparty") or "",
            debtor_iban=compact(iban) if iban else None,
            execution_date=paris(datetime.fromisoformat(node["executionDate"])).date(),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnexpectedAnswer(f"virement illisible : {exc!r}") from exc


def cents_of(value: Any) -> int:
    """Integer cents of Swan's ``AmountValue`` (« 1800 », « 1799.5 », « -1.50 »): read as
    a decimal, never a float; more than two decimals is not an amount in euros."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"montant inattendu : {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"montant illisible : {value!r}") from None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int) or exponent < -2:
        raise ValueError(f"montant illisible : {value!r}")
    return int(amount * 100)
