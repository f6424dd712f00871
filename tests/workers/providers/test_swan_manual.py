"""The manual path (no call anywhere, a few local records), and how the configuration
chooses among the three ways to Swan: ``COOPFLOW_SWAN_*`` read, checked, refused in
French when wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coopflow.config import ConfigurationError, Settings, load_settings
from workers.providers.swan import ManualSwan, SandboxSwan, make_swan
from workers.providers.swan.client import GraphQLSwan
from workers.providers.swan.errors import SwanRejected
from workers.providers.swan.interface import MembershipStatus, NewMember
from workers.providers.swan.sandbox import set_outage
from workflows.engine.clock import MovableClock
from workflows.engine.db import Database

IBAN = "FR7630006000011234567890189"
#: Long enough for any mode; keeps the tests off the instance directory's key file.
SECRET = {"COOPFLOW_SECRET_KEY": "k" * 48}


def member(email: str = "karim.benali@ac-nice.fr") -> NewMember:
    return NewMember(None, email, "Karim", "Benali", coop_ref="0060102B")


@pytest.fixture
def manual(db: Database, clock: MovableClock) -> ManualSwan:
    return ManualSwan(db, clock)


def test_a_manual_membership_is_a_record_whose_status_only_staff_decide(manual):
    first = manual.add_member(member())
    assert manual.mode == "manual"
    assert first.status == MembershipStatus.INVITATION_SENT and first.identifications == ()
    assert manual.add_member(member("KARIM.benali@ac-nice.fr")) == first  # asked again
    assert manual.add_member(member("autre@ac-nice.fr")).id != first.id
    assert manual.membership(first.id) == first
    assert manual.identification_url(first, "http://coopflow.test/mon-espace") is None


def test_an_unknown_manual_membership_is_refused(manual):
    with pytest.raises(SwanRejected, match="Suivi manuel") as unknown:
        manual.membership("man_mem_0000000000000000")
    assert unknown.value.code == "NotFoundRejection"  # as the sandbox and the API say it
    with pytest.raises(SwanRejected):
        manual.add_member(member(" "))


def test_a_certified_account_is_recorded_once(manual):
    first = manual.certify_account(None, IBAN, "OCCE COOP DES OLIVIERS")
    again = manual.certify_account(None, "fr76 3000 6000 0112 3456 7890 189", "OCCE COOP")
    assert again == first and first.status == "recorded" and first.iban == IBAN


def test_the_manual_path_calls_nobody_so_no_outage_reaches_it(manual, db, clock):
    set_outage(db, clock.now() + timedelta(hours=1))
    membership = manual.add_member(member())
    assert manual.membership(membership.id).id == membership.id


# Choosing by configuration -------------------------------------------------------------


def test_the_sandbox_is_the_default_with_the_configured_faults(db, clock):
    swan = make_swan(Settings(), db, clock)
    assert isinstance(swan, SandboxSwan) and swan.rates == (
        ("error", 0.0),
        ("too_many", 0.0),
        ("timeout", 0.0),
    )
    settings = load_settings(
        {
            **SECRET,
            "COOPFLOW_SWAN_SANDBOX_ERROR_RATE": "0,05",
            "COOPFLOW_SWAN_SANDBOX_TIMEOUT_RATE": "0.1",
            "COOPFLOW_SWAN_SANDBOX_429_RATE": "0.02",
            "COOPFLOW_SWAN_SANDBOX_LATENCY_MS": "120",
        },
        dotenv=False,
    )
    flaky = make_swan(settings, db, clock)
    assert isinstance(flaky, SandboxSwan) and flaky.latency_ms == 120
    assert flaky.rates == (("error", 0.05), ("too_many", 0.02), ("timeout", 0.1))


def test_the_manual_mode_is_the_manual_path(db, clock):
    settings = load_settings({**SECRET, "COOPFLOW_SWAN_MODE": "Manual"}, dotenv=False)
    assert settings.swan_mode == "manual"
    assert isinstance(make_swan(settings, db, clock), ManualSwan)


def test_the_live_mode_is_swans_api_with_its_credentials(db, clock):
    settings = load_settings(
        {
            **SECRET,
            "COOPFLOW_SWAN_MODE": "live",
            "COOPFLOW_SWAN_CLIENT_ID": "projet-occe",
            "COOPFLOW_SWAN_CLIENT_SECRET": "secret-du-projet",
            "COOPFLOW_SWAN_TIMEOUT_SECONDS": "4.5",
            "COOPFLOW_BASE_URL": "https://coop.occe.coop/",
        },
        dotenv=False,
    )
    swan = make_swan(settings, db, clock)
    assert isinstance(swan, GraphQLSwan) and swan.mode == "live"
    assert swan.graphql_url == "https://api.swan.io/sandbox-partner/graphql"  # unless told
    assert swan.oauth_url == "https://oauth.swan.io/oauth2/token"
    assert swan.consent_redirect_url == "https://coop.occe.coop/mon-espace"
    assert settings.swan_timeout_seconds == 4.5
    assert (settings.swan_rate_limit, settings.swan_rate_limit_seconds) == (2000, 300.0)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"COOPFLOW_SWAN_MODE": "prod"}, "COOPFLOW_SWAN_MODE inconnu : 'prod'"),
        ({"COOPFLOW_SWAN_MODE": "live"}, "demande COOPFLOW_SWAN_CLIENT_ID"),
        (
            {"COOPFLOW_SWAN_MODE": "live", "COOPFLOW_SWAN_CLIENT_ID": "projet"},
            "COOPFLOW_SWAN_CLIENT_SECRET",
        ),
        ({"COOPFLOW_SWAN_SANDBOX_ERROR_RATE": "1.5"}, "compris entre 0 et 1"),
        ({"COOPFLOW_SWAN_SANDBOX_429_RATE": "-0.1"}, "compris entre 0 et 1"),
        ({"COOPFLOW_SWAN_SANDBOX_TIMEOUT_RATE": "beaucoup"}, "doit être un nombre"),
        ({"COOPFLOW_SWAN_SANDBOX_TIMEOUT_RATE": "nan"}, "doit être un nombre"),
        (
            {
                "COOPFLOW_SWAN_SANDBOX_ERROR_RATE": "0.6",
                "COOPFLOW_SWAN_SANDBOX_TIMEOUT_RATE": "0.5",
            },
            "ne peuvent dépasser 1",
        ),
        ({"COOPFLOW_SWAN_SANDBOX_LATENCY_MS": "-5"}, "nombre entier positif"),
        ({"COOPFLOW_SWAN_TIMEOUT_SECONDS": "0"}, "nombre positif"),
        ({"COOPFLOW_SWAN_RATE_LIMIT": "0"}, "au moins 1"),
        ({"COOPFLOW_SWAN_RATE_LIMIT_SECONDS": "-300"}, "nombre positif"),
        ({"COOPFLOW_ENVIRONMENT": "production"}, "refuse le Swan simulé"),
        (
            {"COOPFLOW_ENVIRONMENT": "Production", "COOPFLOW_SWAN_MODE": "sandbox"},
            "COOPFLOW_SWAN_MODE=live",
        ),
    ],
)
def test_a_wrong_swan_setting_stops_the_start_in_french(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        load_settings({**SECRET, **environ}, dotenv=False)


def test_an_unknown_mode_given_directly_is_refused(db, clock):
    with pytest.raises(ValueError, match="COOPFLOW_SWAN_MODE inconnu"):
        make_swan(Settings(swan_mode="staging"), db, clock)
