"""The real Swan client: OAuth2 client credentials and GraphQL over HTTPS (urllib3).

What Swan documents (swan-io/docs, ``developers/using-api``) and this client relies on:
a project token from ``POST https://oauth.swan.io/oauth2/token`` (form ``client_id``,
``client_secret``, ``grant_type=client_credentials`` → ``access_token``, ``token_type:
bearer``, ``expires_in: 3600``; no refresh token), ``Authorization: Bearer`` on ``POST
{graphql_url}``, an expired token answered HTTP 401, 2,000 requests per 5 minutes per IP
and endpoint then HTTP 429, mutations answering a union of a success payload and
``…Rejection`` types, other errors in GraphQL's ``errors``. The identification page is
``https://oauth.swan.io/oauth2/auth`` with ``response_type=code``, ``client_id``,
``redirect_uri`` (allowed in Swan's dashboard), ``scope=openid offline``, ``state``,
``accountMembershipId`` and ``identificationLevel`` (``Auto`` recommended by Swan for
invited members; ``PVID`` possible) — the same parameters Swan's own partner frontend
builds (swan-partner-frontend, ``server/src/api/oauth2.ts``). The documents and the
schema names are in :mod:`.graphql`, with what could not be confirmed.

« unconfirmed »: that ``state`` may simply carry the membership id (coopflow does not
take the user token the redirect offers, so there is no callback to protect), and the
``extensions.code`` values of GraphQL errors (:data:`graphql.SWAN_SIDE_CODES`).

Every failure leaves as :class:`SwanRejected` (permanent) or :class:`SwanUnavailable`
(transient; ``uncertain`` when a mutation was sent and no answer came back: Swan may
have acted); a used-up request budget as :class:`StepPostponed` (the step waits, its
attempts untouched). Each GraphQL request takes one unit of the budget, the retry after
a 401 too; token requests take none (another endpoint, whose own limit one request per
process and hour never nears). Never logged: the client secret, tokens, full IBANs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from workers.providers.swan import graphql, graphql_cards
from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.interface import (
    Beneficiary,
    Card,
    CardOrder,
    Membership,
    NewMember,
    Transaction,
)
from workers.providers.swan.limiter import Budget, wait_seconds
from workers.providers.swan.oauth_token import TokenCache
from workflows.engine.errors import StepPostponed
from workflows.processes.iban.rib_checks import mask_iban

log = logging.getLogger(__name__)

#: The membership's rights: seeing the account (Swan: no consent needed for view-only
#: access). The card rights (``canManageCards``) would need the consent of a member who
#: manages memberships, with ``consentRedirectUrl``: a decision for the card process.
MEMBER_PERMISSIONS = {
    "canViewAccount": True,
    "canManageBeneficiaries": False,
    "canInitiatePayments": False,
    "canManageAccountMembership": False,
    "canManageCards": False,
}
#: Swan's choice of the best flow for the user (docs: recommended for invited members).
IDENTIFICATION_LEVEL = "Auto"
#: A read made inside a webhook's request (a transaction): Swan waits 10 s for the
#: answer, so Swan's own answer gets at most this, and a slow one is redelivered.
IN_REQUEST_TIMEOUT = urllib3.Timeout(connect=2.0, read=4.0)


class GraphQLSwan:
    """:class:`~workers.providers.swan.interface.Swan` over Swan's partner GraphQL API."""

    mode = "live"

    def __init__(
        self,
        *,
        graphql_url: str,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        timeout: float,
        budget: Budget,
        consent_redirect_url: str | None = None,
        auth_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graphql_url = graphql_url
        self.oauth_url = oauth_url
        #: Swan's OAuth page, beside the token endpoint (``…/oauth2/token`` → ``…/auth``).
        self.auth_url = auth_url or oauth_url.rsplit("/", 1)[0] + "/auth"
        self.client_id = client_id
        self._client_secret = client_secret
        self.budget = budget
        #: Where Swan sends whoever consents to a sensitive operation (Swan requires it to
        #: add a trusted beneficiary; its host must be allowed in Swan's dashboard).
        self.consent_redirect_url = consent_redirect_url
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        # Automatic retries stay off: whether to try again is the engine's call, and a
        # mutation must not be sent twice behind its back.
        self._http = urllib3.PoolManager(retries=False, timeout=self._timeout, maxsize=20)
        self._tokens = TokenCache(self._fetch_token, clock)

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"GraphQLSwan(graphql_url={self.graphql_url!r}, client_id={self.client_id!r})"

    # -- the interface -------------------------------------------------------------

    def add_member(self, member: NewMember) -> Membership:
        account_id = _account(member.account_id)
        email = member.email.strip()
        found = self._data(
            "AccountMembershipsByEmail",
            graphql.MEMBERSHIPS_BY_EMAIL,
            {
                "accountId": account_id,
                "search": email,
                "statuses": graphql.LIVE_MEMBERSHIP_STATUSES,
            },
        )
        account = _found(found.get("account"), "compte Swan introuvable", account_id)
        for edge in account["memberships"]["edges"]:
            if edge["node"]["email"].strip().lower() == email.lower():
                membership = _read(graphql.membership_from, edge["node"])
                log.info("swan membership found", extra={"membership_id": membership.id})
                return membership
        restricted: dict[str, str] = {"firstName": member.first_name, "lastName": member.last_name}
        if member.birth_date is not None:
            restricted["birthDate"] = member.birth_date.isoformat()
        if member.phone_number:
            restricted["phoneNumber"] = member.phone_number
        given: dict[str, Any] = {
            "accountId": account_id,
            "email": email,
            "restrictedTo": restricted,
            "language": "fr",
            **MEMBER_PERMISSIONS,
        }
        if self.consent_redirect_url:
            given["consentRedirectUrl"] = self.consent_redirect_url
        payload = self._mutation(
            "AddAccountMembership", graphql.ADD_MEMBERSHIP, given, "addAccountMembership"
        )
        membership = _read(graphql.membership_from, payload["accountMembership"])
        log.info("swan membership added", extra={"membership_id": membership.id})
        return membership

    def membership(self, membership_id: str) -> Membership:
        data = self._data("AccountMembership", graphql.MEMBERSHIP, {"id": membership_id})
        node = _found(data.get("accountMembership"), "adhésion Swan introuvable", membership_id)
        return _read(graphql.membership_from, node)

    def identification_url(self, membership: Membership, redirect_url: str) -> str | None:
        # Swan's « Get a user access token » guide, with accountMembershipId and the
        # identification level; redirect_uri must be on the dashboard's allowed list.
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_url,
            "scope": "openid offline",
            "state": membership.id,
            "accountMembershipId": membership.id,
            "identificationLevel": IDENTIFICATION_LEVEL,
        }
        return f"{self.auth_url}?{urlencode(params, quote_via=quote)}"

    def certify_account(self, account_id: str | None, iban: str, holder: str) -> Beneficiary:
        account_id = _account(account_id)
        wanted = _compact(iban)
        after: str | None = None
        while True:
            data = self._data(
                "TrustedSepaBeneficiaries",
                graphql.TRUSTED_BENEFICIARIES,
                {"accountId": account_id, "after": after},
            )
            account = _found(data.get("account"), "compte Swan introuvable", account_id)
            page = account["trustedBeneficiaries"]
            for edge in page["edges"]:
                node = edge["node"]
                if node.get("iban") and _compact(node["iban"]) == wanted:
                    found = _read(graphql.beneficiary_from, node)
                    log.info("swan beneficiary found", extra={"iban": mask_iban(wanted)})
                    return found
            if not page["pageInfo"].get("hasNextPage"):
                break
            after = page["pageInfo"]["endCursor"]
        if not self.consent_redirect_url:
            raise SwanRejected(
                "Swan demande une adresse de retour après consentement pour ajouter le "
                "compte : elle n'est pas configurée.",
                code="MissingConsentRedirectUrl",
            )
        payload = self._mutation(
            "AddTrustedSepaBeneficiary",
            graphql.ADD_TRUSTED_BENEFICIARY,
            {
                "accountId": account_id,
                "iban": wanted,
                "name": holder,
                "consentRedirectUrl": self.consent_redirect_url,
            },
            "addTrustedSepaBeneficiary",
        )
        added = _read(graphql.beneficiary_from, payload["trustedBeneficiary"])
        log.info("swan beneficiary added", extra={"iban": mask_iban(wanted)})
        return added

    def transaction(self, transaction_id: str) -> Transaction:
        data = self._data(
            "Transaction",
            graphql.TRANSACTION,
            {"id": transaction_id},
            timeout=IN_REQUEST_TIMEOUT,
        )
        node = _found(data.get("transaction"), "virement Swan introuvable", transaction_id)
        return _read(graphql.transaction_from, node)

    def cards(self, membership_id: str) -> list[Card]:
        found: list[Card] = []
        after: str | None = None
        while True:
            data = self._data(
                "MembershipCards",
                graphql_cards.MEMBERSHIP_CARDS,
                {"id": membership_id, "after": after},
            )
            node = _found(data.get("accountMembership"), "adhésion Swan introuvable", membership_id)
            page = node["cards"]
            found += [_read(_card, edge["node"]) for edge in page["edges"]]
            if not page["pageInfo"].get("hasNextPage"):
                return found
            after = page["pageInfo"]["endCursor"]

    def card(self, card_id: str) -> Card:
        data = self._data("Card", graphql_cards.CARD, {"cardId": card_id})
        return _read(_card, _found(data.get("card"), "carte Swan introuvable", card_id))

    def order_card(self, order: CardOrder) -> Card:
        cards = self.cards(order.membership_id)
        if cards:  # printed on the membership's card (its rejection if it has one)
            card_id = next((c.id for c in cards if c.has_physical), cards[0].id)
            self._mutation(
                "PrintPhysicalCard",
                graphql_cards.PRINT_PHYSICAL_CARD,
                graphql_cards.print_input(card_id, order),
                "printPhysicalCard",
            )
            log.info("swan physical card printed", extra={"card_id": card_id})
            return self.card(card_id)
        payload = self._mutation(
            "AddCards", graphql_cards.ADD_CARDS, graphql_cards.add_cards_input(order), "addCards"
        )
        added = _read(_card, _found((payload.get("cards") or [None])[0], "carte absente", ""))
        log.info("swan card added", extra={"card_id": added.id})
        return added

    # -- the wire --------------------------------------------------------------------

    def _mutation(
        self, operation: str, document: str, given: dict[str, Any], field: str
    ) -> dict[str, Any]:
        data = self._data(operation, document, {"input": given}, mutation=True)
        return graphql.payload_of(data, field, operation)

    def _data(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        *,
        mutation: bool = False,
        timeout: urllib3.Timeout | None = None,
    ) -> dict[str, Any]:
        token = self._tokens.get()
        try:
            return self._graphql(operation, document, variables, token, mutation, timeout)
        except graphql.Unauthenticated:
            token = self._tokens.renew(token)
        try:
            return self._graphql(operation, document, variables, token, mutation, timeout)
        except graphql.Unauthenticated:
            raise SwanRejected(
                "identifiants Swan refusés (jeton d'accès rejeté deux fois)", code="Unauthorized"
            ) from None

    def _graphql(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        token: str,
        mutation: bool,
        timeout: urllib3.Timeout | None = None,
    ) -> dict[str, Any]:
        self._take_unit()
        body = json.dumps(
            {"operationName": operation, "query": document, "variables": variables}
        ).encode()
        started = time.monotonic()
        response = self._send(
            self.graphql_url,
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            uncertain=mutation,
            timeout=timeout,
        )
        log.info(
            "swan request",
            extra={
                "operation": operation,
                "status": response.status,
                "ms": round((time.monotonic() - started) * 1000),
            },
        )
        if response.status in (401, 403):
            raise graphql.Unauthenticated
        _raise_for_http(response, operation, uncertain=mutation)
        answer = _json(response, operation, uncertain=mutation)
        graphql.raise_for_errors(answer.get("errors"), operation, uncertain=mutation)
        if response.status >= 400:
            raise SwanRejected(
                f"Swan refuse la requête {operation} ({response.status})",
                code=f"HTTP{response.status}",
            )
        data = answer.get("data")
        if not isinstance(data, dict):
            raise SwanUnavailable(f"réponse de Swan sans données ({operation})", uncertain=mutation)
        return data

    def _take_unit(self) -> None:
        wait = self.budget.take()
        if wait > 0:
            seconds = wait_seconds(wait)
            raise StepPostponed(
                f"Quota de requêtes Swan atteint : nouvel essai dans {seconds} s.",
                timedelta(seconds=seconds),
            )

    def _fetch_token(self) -> tuple[str, float]:
        body = urlencode(
            {
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
            }
        ).encode()
        response = self._send(
            self.oauth_url,
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            uncertain=False,
        )
        log.info("swan token request", extra={"status": response.status})
        if response.status in (400, 401, 403):
            raise SwanRejected(
                "identifiants Swan refusés (client_id ou client_secret)", code="invalid_client"
            )
        _raise_for_http(response, "jeton d'accès", uncertain=False)
        answer = _json(response, "jeton d'accès", uncertain=False)
        try:
            return str(answer["access_token"]), float(answer["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise SwanUnavailable("réponse de Swan illisible (jeton d'accès)") from None

    def _send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        uncertain: bool,
        timeout: urllib3.Timeout | None = None,
    ) -> urllib3.BaseHTTPResponse:
        try:
            return self._http.request(
                "POST", url, body=body, headers=headers, timeout=timeout or self._timeout
            )
        except urllib3.exceptions.ConnectTimeoutError as exc:  # includes NewConnectionError
            raise SwanUnavailable(f"Swan injoignable : {type(exc).__name__}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Sent, and no answer: Swan may have acted on it.
            raise SwanUnavailable(
                f"pas de réponse de Swan à temps : {type(exc).__name__}", uncertain=uncertain
            ) from exc


def _raise_for_http(response: urllib3.BaseHTTPResponse, what: str, *, uncertain: bool) -> None:
    if response.status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        raise SwanUnavailable(f"Swan limite les requêtes (429) : {what}", retry_after=retry_after)
    if response.status >= 500:
        raise SwanUnavailable(f"Swan en erreur ({response.status}) : {what}", uncertain=uncertain)
    if response.status >= 400 and not _is_json(response):
        raise SwanRejected(
            f"Swan refuse la requête ({response.status}) : {what}", code=f"HTTP{response.status}"
        )


def _json(response: urllib3.BaseHTTPResponse, what: str, *, uncertain: bool) -> dict[str, Any]:
    try:
        answer = json.loads(response.data)
    except ValueError:
        raise SwanUnavailable(f"réponse de Swan illisible : {what}", uncertain=uncertain) from None
    if not isinstance(answer, dict):
        raise SwanUnavailable(f"réponse de Swan illisible : {what}", uncertain=uncertain)
    return answer


def _is_json(response: urllib3.BaseHTTPResponse) -> bool:
    return "json" in (response.headers.get("Content-Type") or "")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:  # an HTTP date: rare from an API; the backoff decides then
        return None


def _read(parse: Callable[[dict[str, Any]], Any], node: dict[str, Any]) -> Any:
    try:
        return parse(node)
    except graphql.UnexpectedAnswer as exc:
        raise SwanRejected(f"réponse de Swan inattendue : {exc}", code="UnexpectedAnswer") from exc


def _card(node: dict[str, Any]) -> Card:
    try:
        return graphql_cards.card_from(node)
    except (KeyError, TypeError, ValueError) as exc:
        raise graphql.UnexpectedAnswer(f"carte illisible : {exc!r}") from exc


def _found(node: Any, message: str, ident: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise SwanRejected(f"{message} : {ident}", code="NotFound")
    return node


def _account(account_id: str | None) -> str:
    if not account_id:
        raise SwanRejected(
            "la coopérative n'a pas encore de compte Swan connu : rien n'a été envoyé",
            code="NoAccount",
        )
    return account_id


def _compact(iban: str) -> str:
    return "".join(iban.split()).upper()
