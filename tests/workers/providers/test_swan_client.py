"""The real Swan client against the local fake Swan (tests/fakes/swan_server.py): one
token per process shared by its threads and renewed in time, every failure sorted into
permanent or transient at the boundary, retried steps that create nothing twice."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.swan_server import FakeSwan
from workers.providers.swan.client import GraphQLSwan
from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.interface import IdentificationStatus, MembershipStatus, NewMember
from workers.providers.swan.limiter import LocalBudget
from workflows.engine.errors import StepPostponed

ACCOUNT = "acc_coop_1"
IBAN = "FR7630006000011234567890189"
CONSENT_URL = "https://coopflow.test/portail/swan/consentement"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def swan():
    with FakeSwan(accounts=(ACCOUNT,)) as fake:
        yield fake


def connect(swan: FakeSwan, *, timeout: float = 2.0, **options) -> GraphQLSwan:
    options.setdefault("budget", LocalBudget())
    options.setdefault("consent_redirect_url", CONSENT_URL)
    return GraphQLSwan(**swan.client_settings(), timeout=timeout, **options)


def mandataire(email: str = "claire.martin@ac-nice.fr", account_id: str | None = ACCOUNT):
    return NewMember(
        account_id=account_id,
        email=email,
        first_name="Claire",
        last_name="Martin",
        birth_date=date(1980, 5, 17),
        phone_number="+33612345678",
    )


# -- the token ---------------------------------------------------------------------------


def test_twenty_threads_needing_a_token_at_once_share_one(swan: FakeSwan):
    membership = connect(swan).add_member(mandataire())
    swan.hang_next(1, seconds=0.3, field="token")  # a slow token: all 20 are waiting for it
    client = connect(swan)
    start = threading.Barrier(20)
    seen: list[MembershipStatus] = []

    def read() -> None:
        start.wait()
        seen.append(client.membership(membership.id).status)

    threads = [threading.Thread(target=read) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [MembershipStatus.INVITATION_SENT] * 20
    assert swan.tokens_issued == 2  # the first client's, then one for the 20 threads
    assert [r.status for r in swan.graphql_requests("accountMembership")] == [200] * 20


def test_the_token_is_renewed_shortly_before_it_expires(swan: FakeSwan):
    clock = Clock()
    client = connect(swan, clock=clock)
    membership = client.add_member(mandataire())
    clock.now += 3600 - 61  # a minute and a second before Swan's expiry: still good
    client.membership(membership.id)
    assert swan.tokens_issued == 1
    clock.now += 2  # inside the last minute: asked again before Swan refuses it
    client.membership(membership.id)
    assert swan.tokens_issued == 2
    assert all(r.status == 200 for r in swan.requests)


def test_a_refused_token_is_renewed_once_and_the_request_sent_again(swan: FakeSwan):
    client = connect(swan)
    membership = client.add_member(mandataire())
    swan.expire_tokens()  # revoked on Swan's side before its time
    assert client.membership(membership.id).id == membership.id
    assert swan.tokens_issued == 2
    assert [r.status for r in swan.graphql_requests("accountMembership")] == [401, 200]


def test_a_token_refused_twice_means_the_credentials_are_refused(swan: FakeSwan):
    client = connect(swan)
    swan.fail_next(2, status=401)
    with pytest.raises(SwanRejected, match="identifiants Swan refusés"):
        client.membership("mbr_1")
    assert swan.tokens_issued == 2
    assert len(swan.graphql_requests()) == 2  # no third try


def test_wrong_credentials_are_refused_without_calling_graphql(swan: FakeSwan):
    client = GraphQLSwan(
        **{**swan.client_settings(), "client_secret": "pas-le-bon"},
        timeout=2,
        budget=LocalBudget(),
    )
    with pytest.raises(SwanRejected, match="identifiants Swan refusés") as refused:
        client.membership("mbr_1")
    assert refused.value.code == "invalid_client"
    assert swan.graphql_requests() == [] and swan.tokens_issued == 0


# -- failures sorted at the boundary -----------------------------------------------------


def test_a_validation_rejection_is_permanent_with_its_fields(swan: FakeSwan):
    swan.reject_next(
        "addAccountMembership",
        "ValidationRejection",
        "Validation failed",
        fields=[
            {
                "code": "InvalidString",
                "message": "Invalid date",
                "path": ["restrictedTo", "birthDate"],
            }
        ],
    )
    with pytest.raises(SwanRejected) as refused:
        connect(swan).add_member(mandataire())
    assert str(refused.value) == "Swan refuse : Validation failed"
    assert refused.value.code == "ValidationRejection"
    assert refused.value.fields == ("restrictedTo.birthDate : Invalid date",)
    assert swan.memberships == {}


@pytest.mark.parametrize(
    "typename", ["ForbiddenRejection", "BadAccountStatusRejection", "InvalidPhoneNumberRejection"]
)
def test_any_rejection_is_permanent_and_named(swan: FakeSwan, typename: str):
    swan.reject_next("addAccountMembership", typename, "Not allowed")
    with pytest.raises(SwanRejected, match=r"^Swan refuse : Not allowed$") as refused:
        connect(swan).add_member(mandataire())
    assert refused.value.code == typename


def test_swans_own_rejections_answered_by_the_fake_model(swan: FakeSwan):
    with pytest.raises(SwanRejected) as refused:
        connect(swan).add_member(mandataire(account_id="acc_inconnu"))
    assert refused.value.code == "NotFound"  # the account lookup found nothing
    with pytest.raises(SwanRejected) as refused:
        connect(swan).certify_account(ACCOUNT, "FR7630006000011234567890188", "OCCE 06")
    assert refused.value.code == "ValidationRejection"
    assert refused.value.fields == ("iban : Invalid IBAN",)
    assert swan.beneficiaries == {}


def test_an_internal_error_rejection_is_swan_failing_not_refusing(swan: FakeSwan):
    swan.reject_next("addTrustedSepaBeneficiary", "InternalErrorRejection", "Internal error")
    with pytest.raises(SwanUnavailable) as unavailable:
        connect(swan).certify_account(ACCOUNT, IBAN, "OCCE 06")
    assert unavailable.value.uncertain


def test_graphql_errors_are_permanent_unless_swan_says_they_are_its_own(swan: FakeSwan):
    client = connect(swan)
    swan.error_next(message='Variable "$id" got invalid value', code="BAD_USER_INPUT")
    with pytest.raises(SwanRejected, match="invalid value") as refused:
        client.membership("mbr_1")
    assert refused.value.code == "BAD_USER_INPUT"
    swan.error_next(message="Something broke", code="INTERNAL_SERVER_ERROR")
    with pytest.raises(SwanUnavailable, match="Something broke"):
        client.membership("mbr_1")
    swan.error_next(message="Unauthenticated", code="UNAUTHENTICATED")
    with pytest.raises(SwanRejected, match="introuvable"):  # renewed, then answered
        client.membership("mbr_inconnu")
    assert swan.tokens_issued == 2


def test_http_5xx_and_429_are_transient(swan: FakeSwan):
    client = connect(swan)
    swan.fail_next(1, status=503)
    with pytest.raises(SwanUnavailable, match="503") as unavailable:
        client.membership("mbr_1")
    assert not unavailable.value.uncertain  # a read: nothing to be uncertain about
    swan.fail_next(1, status=500, field="addAccountMembership")
    with pytest.raises(SwanUnavailable, match="500") as unavailable:
        client.add_member(mandataire())
    assert unavailable.value.uncertain  # a mutation that reached Swan
    swan.fail_next(1, status=429, retry_after=42)
    with pytest.raises(SwanUnavailable, match="429") as unavailable:
        client.membership("mbr_1")
    assert unavailable.value.retry_after == 42.0


def test_the_token_endpoint_failing_is_transient(swan: FakeSwan):
    swan.fail_next(1, status=502, field="token")
    with pytest.raises(SwanUnavailable, match="502"):
        connect(swan).membership("mbr_1")
    assert swan.graphql_requests() == []


def test_a_timeout_before_swan_processed_a_read_is_transient(swan: FakeSwan):
    client = connect(swan, timeout=0.2)
    swan.hang_next(1, seconds=1, after_processing=False, field="accountMembership")
    with pytest.raises(SwanUnavailable, match="pas de réponse") as unavailable:
        client.membership("mbr_1")
    assert not unavailable.value.uncertain


def test_swan_unreachable_is_transient_and_certain():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]  # nothing listens there
    client = GraphQLSwan(
        graphql_url=f"http://127.0.0.1:{port}/graphql",
        oauth_url=f"http://127.0.0.1:{port}/oauth2/token",
        client_id="x",
        client_secret="y",
        timeout=0.5,
        budget=LocalBudget(),
    )
    with pytest.raises(SwanUnavailable, match="injoignable") as unavailable:
        client.membership("mbr_1")
    assert not unavailable.value.uncertain


def test_a_timeout_after_swan_added_the_member_is_uncertain_and_the_retry_finds_it(
    swan: FakeSwan,
):
    client = connect(swan, timeout=0.2)
    swan.hang_next(1, seconds=1, after_processing=True, field="addAccountMembership")
    with pytest.raises(SwanUnavailable) as unavailable:
        client.add_member(mandataire())
    assert unavailable.value.uncertain
    assert len(swan.memberships) == 1  # Swan did it; the client could not know
    again = client.add_member(mandataire())  # the step's next attempt
    assert [again.id] == list(swan.memberships)
    assert swan.created["memberships"] == 1


# -- the interface -------------------------------------------------------------------------


def test_add_member_twice_makes_one_membership(swan: FakeSwan):
    client = connect(swan)
    first = client.add_member(mandataire())
    second = client.add_member(mandataire(email="Claire.Martin@ac-nice.fr "))
    assert first == second
    assert first.status is MembershipStatus.INVITATION_SENT and first.account_id == ACCOUNT
    assert swan.created["memberships"] == 1
    assert len(swan.graphql_requests("addAccountMembership")) == 1
    sent = swan.memberships[first.id]
    assert sent.restricted_to == {
        "firstName": "Claire",
        "lastName": "Martin",
        "birthDate": "1980-05-17",
        "phoneNumber": "+33612345678",
    }
    assert sent.permissions["canViewAccount"] and not sent.permissions["canInitiatePayments"]


def test_a_disabled_membership_is_not_taken_up_again(swan: FakeSwan):
    client = connect(swan)
    old = client.add_member(mandataire())
    swan.set_status(old.id, "Disabled")  # the invitation expired
    new = client.add_member(mandataire())
    assert new.id != old.id and swan.created["memberships"] == 2


def test_the_membership_says_what_does_not_match_and_its_identifications(swan: FakeSwan):
    client = connect(swan)
    membership = client.add_member(mandataire())
    first = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    swan.identify(membership.id, "Invalid", reasons=("ExpiredDocument",), at=first)
    swan.identify(membership.id, "Valid", at=first + timedelta(days=2))
    swan.set_status(membership.id, "BindingUserError", mismatches=("birthDateMatchError",))
    now = client.membership(membership.id)
    assert now.status is MembershipStatus.BINDING_USER_ERROR
    assert now.mismatches == ("birthDateMatchError",)
    assert [(i.status, i.reasons) for i in now.identifications] == [
        (IdentificationStatus.VALID, ()),
        (IdentificationStatus.INVALID, ("ExpiredDocument",)),
    ]
    assert now.identifications[1].created_at == first
    assert now.latest_since(first + timedelta(days=3)) is None


def test_an_unknown_membership_is_refused(swan: FakeSwan):
    with pytest.raises(SwanRejected, match="adhésion Swan introuvable : mbr_404"):
        connect(swan).membership("mbr_404")


def test_the_identification_url_is_swans_oauth_page_for_the_membership(swan: FakeSwan):
    client = connect(swan)
    membership = client.add_member(mandataire())
    url = client.identification_url(membership, "https://coopflow.test/portail/kyc/retour")
    assert url is not None
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == swan.url_auth
    assert "scope=openid%20offline" in parts.query
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "response_type": "code",
        "client_id": swan.client_id,
        "redirect_uri": "https://coopflow.test/portail/kyc/retour",
        "scope": "openid offline",
        "state": membership.id,
        "accountMembershipId": membership.id,
        "identificationLevel": "Auto",
    }
    assert len(swan.requests) == 3  # a token, the lookup, the mutation: the URL costs none


def test_certify_account_twice_makes_one_beneficiary(swan: FakeSwan):
    client = connect(swan)
    first = client.certify_account(ACCOUNT, IBAN, "OCCE 06")
    second = client.certify_account(ACCOUNT, "fr76 3000 6000 0112 3456 7890 189", "OCCE 06")
    assert first == second
    assert (first.iban, first.name, first.status) == (IBAN, "OCCE 06", "ConsentPending")
    assert swan.created["beneficiaries"] == 1


def test_certify_account_reads_every_page_before_adding(swan: FakeSwan):
    swan.page_size = 2
    client = connect(swan)
    for iban in ("DE89370400440532013000", "GB29NWBK60161331926819", IBAN):
        client.certify_account(ACCOUNT, iban, "Titulaire")
    assert swan.created["beneficiaries"] == 3
    client.certify_account(ACCOUNT, IBAN, "Titulaire")  # the third, on the second page
    assert swan.created["beneficiaries"] == 3


def test_without_an_account_or_a_consent_address_nothing_is_sent(swan: FakeSwan):
    with pytest.raises(SwanRejected, match="pas encore de compte Swan"):
        connect(swan).add_member(mandataire(account_id=None))
    with pytest.raises(SwanRejected, match="pas encore de compte Swan"):
        connect(swan).certify_account(None, IBAN, "OCCE 06")
    assert swan.requests == []
    with pytest.raises(SwanRejected, match="adresse de retour") as refused:
        connect(swan, consent_redirect_url=None).certify_account(ACCOUNT, IBAN, "OCCE 06")
    assert refused.value.code == "MissingConsentRedirectUrl"
    assert swan.graphql_requests("addTrustedSepaBeneficiary") == []


def test_a_used_up_budget_postpones_without_calling_swan(swan: FakeSwan):
    clock = Clock()
    client = connect(swan, budget=LocalBudget(limit=2, period_seconds=300, clock=clock))
    membership = client.add_member(mandataire())  # two requests: the lookup, the mutation
    clock.now += 100
    with pytest.raises(StepPostponed) as postponed:
        client.membership(membership.id)
    assert str(postponed.value) == "Quota de requêtes Swan atteint : nouvel essai dans 200 s."
    assert postponed.value.delay == timedelta(seconds=200)
    assert len(swan.graphql_requests()) == 2
    clock.now += 200
    assert client.membership(membership.id).id == membership.id


def test_no_secret_token_or_full_iban_in_the_logs(swan: FakeSwan, caplog):
    caplog.set_level(logging.DEBUG)
    client = connect(swan)
    swan.expire_tokens()
    client.certify_account(ACCOUNT, IBAN, "OCCE 06")
    swan.reject_next("addTrustedSepaBeneficiary", "ForbiddenRejection", f"IBAN {IBAN} refusé")
    with pytest.raises(SwanRejected) as refused:
        client.certify_account(ACCOUNT, "DE89370400440532013000", "OCCE 06")
    assert IBAN not in str(refused.value) and "FR76 **** " in str(refused.value)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "swan token request" in logged and "swan beneficiary added" in logged
    assert swan.client_secret not in logged + repr(client)
    assert IBAN not in logged and "DE89370400440532013000" not in logged
    assert not any(token in logged for token in swan.issued_tokens)
