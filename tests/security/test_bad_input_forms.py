"""Bad input on every form that writes, as property tests (hypothesis).

``FORMS`` lists each state-changing route with valid values and the ways its fields can
be wrong: blank (unicode spaces included), too long, malformed email, phone or postal
code, other digits than 0-9, weak password, mismatched confirmation, stale or unreadable
hidden field, ids of nothing… For each drawn defect, the property checks what a user
would notice: no 500, the status and the exact French message where the templates show
errors (or on the next page, after a redirect), no message the app does not know (an
English one), and ``database_rows`` unchanged. A guard fails when a route that writes
appears without an entry in ``FORMS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from hypothesis import given, note
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from tests import factories
from tests.helpers import case_of
from tests.security.bad_input import (
    assert_refused,
    bad_input,
    check_nothing_written,
    errors_shown,
)
from tests.security.conftest import (
    World,
    database_rows,
    token_of,
    url_of,
    values_for,
    who_for,
)
from tests.security.form_defects import (
    FORMS,
    NO_INPUT,
    SYSTEM,
    Context,
    Defect,
    Form,
    Values,
)
from tests.security.form_defects_affiliation_staff import (
    AFFILIATION_STAFF,
    affiliation_staff_context,
)
from tests.security.form_defects_bank import CERTIFIED_MANDATAIRE, PDF, TASK_STAFF
from tests.security.form_defects_card_portal import card_portal_context
from tests.security.form_defects_card_staff import CARD_STAFF, card_staff_context
from tests.security.form_defects_prices import PRICES_STAFF, prices_context
from tests.security.form_defects_transfer_portal import transfer_portal_context
from tests.security.form_defects_transfer_staff import TRANSFER_STAFF, transfer_staff_context
from tests.web.conftest import PortalCoop, log_in_mandataire, settle, text
from web.extensions import limiter
from web.guards import MAX_ID, NUL_REFUSED
from web.submissions import staff_owner
from workflows.coop_edit import fingerprint, mandataire_of, values_of
from workflows.engine import steps
from workflows.engine.engine import Actor
from workflows.models import BankAccount, Case, Coop, FormSubmission, Mandataire, Step
from workflows.processes.iban.rib_checks import RibInput
from workflows.processes.iban.submission import check_rib_file, submit_rib
from workflows.submissions import new_token

#: The fixtures are costly: one backend is enough for what a page answers.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# --- sending them ---------------------------------------------------------------------


def _fill(value: Any, context: Context) -> Any:
    if isinstance(value, str):
        return value.format(**context)
    if isinstance(value, list):
        return [_fill(v, context) for v in value]
    return value() if callable(value) else value


def send(client: FlaskClient, form: Form, defect: Defect, values: Values, context: Context) -> Any:
    values = dict(values)
    raw = str(values.pop("@url", ""))
    context = {
        **context,
        "value": raw,
        "value_url": quote(raw, safe=""),
        # WTForms adds « - » to a prefix unless it ends with one of these.
        "prefix": raw if raw[-1:] in tuple("-_;:/.") else f"{raw}-",
    }
    fields = {name: _fill(value, context) for name, value in form.valid.items()}
    fields.update(values)
    prefix = form.prefix.format(**context)
    data = {prefix + name: value for name, value in fields.items() if value is not None}
    data[prefix + "csrf_token"] = context["csrf"]
    multipart = any(isinstance(v, tuple) for v in data.values())
    return client.post(
        form.url.format(**context),
        data=data,
        follow_redirects=defect.follow,
        content_type="multipart/form-data" if multipart else None,
    )


@dataclass
class Family:
    """The forms one person posts, and what their values refer to."""

    client: FlaskClient
    context: Context
    cases: list[tuple[str, Form, Defect]]


def family(who: str, client: FlaskClient, context: Context) -> Family:
    cases = [
        (endpoint, form, defect)
        for endpoint, forms in FORMS.items()
        for form in forms
        if form.who == who
        for defect in form.defects
    ]
    return Family(client, context, cases)


def _version(runtime: Any, case_id: int) -> int:
    with runtime.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return int(case.version)


def check_bad_input(runtime: Any, people: Family, data: st.DataObject) -> None:
    """Draw a form and one of its defects, post it, check what the user reads."""
    which = data.draw(st.integers(0, len(people.cases) - 1), label="form")
    endpoint, form, defect = people.cases[which]
    note(f"{endpoint} {form.url}: {defect.name}")
    context = dict(people.context)
    if form.version_of:
        context["version"] = _version(runtime, context[form.version_of])
    values = data.draw(defect.strategy(context), label=defect.name)
    before = database_rows(runtime)
    limiter.reset()  # ten logins a minute: the limits have their own tests
    response = send(people.client, form, defect, values, context)
    if _has_nul(values):
        # Refused before any view (web/guards.py), whatever else is wrong with it.
        assert_refused(response, [NUL_REFUSED], 400)
    else:
        assert_refused(response, defect.says(values), defect.status)
        assert defect.page_says in text(response)
        if defect.follow:
            assert response.history, "refusé sans redirection"
    check_nothing_written(runtime, before)


def _has_nul(values: Values) -> bool:
    """A NUL character in a typed value (or in a key, or in the URL part drawn)."""
    return any("\x00" in f"{k}{v}" for k, v in values.items() if not isinstance(v, tuple))


# --- the properties -------------------------------------------------------------------


@sqlite_only
@bad_input(max_examples=200)
@given(data=st.data())
def test_forms_before_a_login_refuse_bad_input(app, runtime, world, staff, data):
    """Logins, « Mot de passe perdu ? », and the passwords chosen behind the links."""
    client = world.clients["visitor"]
    context = {
        "csrf": token_of(client, "/connexion"),
        "token": world.values["token"],
        "reset": world.values["reset"],
        "mandataire_email": world.coop.email,
        "staff_email": staff.email,
    }
    check_bad_input(runtime, family("visitor", client, context), data)


def _kyc_refused(runtime: Any, coop: PortalCoop) -> int:
    """The coop's kyc case refused by Swan (``invalid``), as the kyc steps leave it: its id."""
    case_id = case_of(runtime.engine, coop.coop_id, "kyc").id
    with runtime.engine.transaction() as tx:
        case = tx.lock(case_id)
        case.data = {**case.data, "reasons": ["ExpiredDocument"], "refusals": 1}
        tx.fire(case_id, "refuse", actor=SYSTEM, payload={"reasons": ["ExpiredDocument"]})
    return case_id


@pytest.fixture
def to_check(
    app: Flask, runtime: Any, make_coop: Callable[..., PortalCoop]
) -> tuple[PortalCoop, FlaskClient]:
    """A mandataire whose space waits for « Tout est correct » or « Signaler un problème »,
    whose RIB is awaited (« Déposer le RIB ») and whose identity Swan refused
    (« Recommencer la vérification »)."""
    coop = make_coop("active")
    _kyc_refused(runtime, coop)
    settle(runtime)
    client = app.test_client()
    log_in_mandataire(app, client, coop.mandataire_id)
    return coop, client


@pytest.fixture
def foreign_submission(runtime: Any, staff: Any) -> str:
    """The one-time token of a form someone else (the AD's staff) has sent."""
    token = new_token()
    with runtime.engine.transaction() as tx:
        tx.session.add(FormSubmission(token=token, owner=staff_owner(staff.id), result={}))
    return token


@sqlite_only
@bad_input(max_examples=150)
@given(data=st.data())
def test_the_mandataires_forms_refuse_bad_input(app, runtime, to_check, foreign_submission, data):
    """« Vérification de l'espace »: the coordonnées, « Signaler un problème », « Tout est
    correct »; « Déposer le RIB », « Recommencer la vérification »."""
    coop, client = to_check
    page = text(client.get("/mon-espace/verification"))
    fingerprint = re.search(r'name="fingerprint" value="([^"]*)"', page)
    assert fingerprint, "no « Tout est correct » on the page"
    context = {
        "csrf": token_of(client, "/mon-espace/verification"),
        "space_id": coop.space_id,
        "fingerprint": fingerprint[1],
        "foreign_submission": foreign_submission,
    }
    check_bad_input(runtime, family("mandataire", client, context), data)


def _rib_handed_in(tx: Any, coop: PortalCoop, case_id: int) -> BankAccount:
    """A RIB handed in as the portal does (the file, the typed fields, ``submit_rib``)."""
    person = tx.session.get(Mandataire, coop.mandataire_id)
    return submit_rib(
        tx,
        tx.lock(case_id),
        RibInput("FR7630006000011234567890189", "AGRIFRPP", "Jean Dupont", date(2026, 6, 1)),
        check_rib_file(PDF),
        by=Actor.mandataire(person),
        key=f"bad-input.{case_id}",
    )


def _rib_to_review(runtime: Any, coop: PortalCoop) -> int:
    """The coop's iban case with a RIB the checks doubted (``needs_review``), as
    ``check_rib`` leaves it: its id."""
    case_id = case_of(runtime.engine, coop.coop_id, "iban").id
    doubt = "Titulaire « Jean Dupont » non reconnu."
    with runtime.engine.transaction() as tx:
        account = _rib_handed_in(tx, coop, case_id)
        account.status, account.review = "needs_review", {"reasons": [doubt]}
        payload = {"bank_account_id": account.id, "review": doubt}
        tx.fire(case_id, "to_review", actor=SYSTEM, payload=payload)
    return case_id


def _certified(runtime: Any, coop: PortalCoop, *, reported: str | None = None) -> int:
    """The coop's iban case with its account certified (and the mandataire's
    « Le compte affiché n'est pas le nôtre » when ``reported``): its id."""
    case_id = case_of(runtime.engine, coop.coop_id, "iban").id
    with runtime.engine.transaction() as tx:
        account = _rib_handed_in(tx, coop, case_id)
        account.status = "verified"
        tx.fire(case_id, "accept", actor=SYSTEM, payload={"bank_account_id": account.id})
        account.status, account.certified_at = "certified", tx.now
        tx.fire(case_id, "certified", actor=SYSTEM)
        if reported is not None:
            person = tx.session.get(Mandataire, coop.mandataire_id)
            actor = Actor.mandataire(person)
            tx.fire(case_id, "report_mismatch", actor=actor, payload={"message": reported})
    return case_id


@pytest.fixture
def certified(
    app: Flask, runtime: Any, make_coop: Callable[..., PortalCoop]
) -> tuple[PortalCoop, FlaskClient]:
    """A mandataire whose coop's account is certified: « Le compte affiché n'est pas le
    nôtre »."""
    coop = make_coop("active")
    _certified(runtime, coop)
    settle(runtime)
    client = app.test_client()
    log_in_mandataire(app, client, coop.mandataire_id)
    return coop, client


@sqlite_only
@bad_input(max_examples=40)
@given(data=st.data())
def test_a_certified_accounts_report_refuses_bad_input(
    app, runtime, certified, foreign_submission, data
):
    """« Le compte affiché n'est pas le nôtre », once the account is certified (a coop
    whose RIB is still awaited has no such form)."""
    _, client = certified
    context = {
        "csrf": token_of(client, "/mon-espace/compte-bancaire"),
        "foreign_submission": foreign_submission,
    }
    check_bad_input(runtime, family(CERTIFIED_MANDATAIRE, client, context), data)


def _case_with_failed_step(runtime: Any, ad: Any) -> tuple[int, int]:
    """An invitation whose sending step failed for good (offered « Relancer l'étape »)."""
    coop = factories.CoopFactory(ad=ad)
    person = factories.MandataireFactory(coop=coop, email=f"echec.{coop.id}@ac-nice.fr")
    publisher, runtime.engine.publisher = runtime.engine.publisher, None  # not for the worker
    try:
        with runtime.engine.transaction() as tx:
            case = tx.start("invitation", coop.id, actor=SYSTEM, data={"mandataire_id": person.id})
            tx.fire(case.id, "invite", actor=SYSTEM)
            case_id = case.id
    finally:
        runtime.engine.publisher = publisher
    with runtime.db.read() as session:
        step_id = session.scalars(select(Step.id).where(Step.case_id == case_id)).one()
    claimed = steps.claim(runtime.engine, step_id)
    assert claimed is not None
    steps.fail(runtime.engine, claimed, "SMTP injoignable", "Traceback", permanent=True)
    return case_id, step_id


def _coop_edit_context(runtime: Any, coop_id: int) -> Context:
    """« Modifier la coopérative » of the bounced invitation's coop: what its form shows.
    Its mandataire never chose a password (the fixture gives everyone one): their
    address may be corrected."""
    with runtime.engine.transaction() as tx:
        coop = tx.session.get(Coop, coop_id)
        person = mandataire_of(tx.session, coop)
        person.password_hash = None
        values = values_of(coop, person)
    return {
        "bounced_coop": coop_id,
        "coop_seen": fingerprint(values),
        **{f"coop_{name}": value for name, value in values.items()},
    }


@pytest.fixture
def back_office(
    app: Flask,
    runtime: Any,
    world: World,
    staff: Any,
    ad: Any,
    make_coop: Callable[..., PortalCoop],
) -> Context:
    """The ids the back-office's forms name: a bounced invitation (offering « Corriger
    l'email », « Renvoyer », « Annuler »), a failed step, the world's task and case."""
    bounced = make_coop("invited")
    with runtime.engine.transaction() as tx:
        tx.fire(
            bounced.invitation_id,
            "bounce",
            actor=SYSTEM,
            payload={"email": bounced.email, "error": "550 boîte inconnue"},
        )
    failed, failed_step = _case_with_failed_step(runtime, ad)
    settle(runtime)
    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="coopflow.admin.import")
    return {
        "csrf": token_of(world.clients["staff"], "/admin/"),
        "bounced": bounced.invitation_id,
        "bounced_email": bounced.email,
        "failed": failed,
        "failed_step": failed_step,
        "case": world.values["case_id"],
        "task": world.values["task_id"],
        "ad_id": ad.id,
        "staff_id": staff.id,
        "mandataire_email": world.coop.email,
        **_coop_edit_context(runtime, bounced.coop_id),
        **_coop_edit_context(runtime, bounced.coop_id),
        "serializer": serializer,
    }


@sqlite_only
@bad_input(max_examples=400)
@given(data=st.data())
def test_the_back_offices_forms_refuse_bad_input(app, runtime, world, back_office, data):
    """The case page's forms (comment, actions, retry, fix the email, assign, task),
    « Tâches », « Actions groupées », « Importer des coopératives », and the editing
    routes Flask-Admin adds to the lists."""
    check_bad_input(runtime, family("staff", world.clients["staff"], back_office), data)


@pytest.fixture
def task_pages(runtime: Any, world: World, make_coop: Callable[..., PortalCoop]) -> Context:
    """The cases of the kyc and iban task pages: an identity to record (its link sent),
    a RIB to review, a certified account reported as not the coop's; and cases none of
    them is for: an identity refused already, the world's invitation."""
    bank, reported = make_coop("active"), make_coop("active")
    context = {
        "csrf": token_of(world.clients["staff"], "/admin/"),
        "case": world.values["case_id"],
        "kyc_open": case_of(runtime.engine, bank.coop_id, "kyc").id,
        "kyc_refused": _kyc_refused(runtime, reported),
        "rib_review": _rib_to_review(runtime, bank),
        "mismatch": _certified(runtime, reported, reported="Ce n'est pas notre IBAN."),
    }
    settle(runtime)
    return context


@sqlite_only
@bad_input(max_examples=250)
@given(data=st.data())
def test_the_task_pages_refuse_bad_input(app, runtime, world, task_pages, data):
    """« Enregistrer le résultat de la vérification d'identité » (vérifiée, refusée),
    « Vérifier le RIB déposé » (approuver, refuser, nouveau RIB), « Traiter le
    signalement » (compte confirmé, nouveau RIB)."""
    check_bad_input(runtime, family(TASK_STAFF, world.clients["staff"], task_pages), data)


@pytest.fixture
def affiliation_staff(runtime: Any, world: World, ad: Any) -> Context:
    """The affiliation's staff forms: the three items, sending back, a new deadline, a
    bank statement."""
    context = affiliation_staff_context(
        runtime, ad, world.values["case_id"], token_of(world.clients["staff"], "/admin/")
    )
    settle(runtime)
    return context


@sqlite_only
@bad_input(max_examples=250)
@given(data=st.data())
def test_the_affiliation_staff_forms_refuse_bad_input(app, runtime, world, affiliation_staff, data):
    """« Valider les pièces de l'adhésion » (paiement, engagement, changement, renvoi),
    « Relancer et accorder un délai », « Relevé bancaire »."""
    check_bad_input(
        runtime, family(AFFILIATION_STAFF, world.clients["staff"], affiliation_staff), data
    )


@pytest.fixture
def price_lists(runtime: Any, world: World, ad: Any) -> Context:
    """« Tarifs d'adhésion »: the AD's list of 2026-2027, another AD's item."""
    return prices_context(runtime, ad, token_of(world.clients["staff"], "/admin/"))


@sqlite_only
@bad_input(max_examples=150)
@given(data=st.data())
def test_the_price_lists_forms_refuse_bad_input(app, runtime, world, price_lists, data):
    """« Ajouter un tarif », « Modifier le tarif », « Supprimer ce tarif », the CSV file
    of price lists."""
    check_bad_input(runtime, family(PRICES_STAFF, world.clients["staff"], price_lists), data)


@pytest.fixture
def transfer_staff(app: Any, runtime: Any, world: World, ad: Any) -> Family:
    """The transfer's and the advance's staff forms, posted by the AD's treasurer."""
    client, context = transfer_staff_context(app, runtime, ad, world.values["case_id"])
    settle(runtime)
    return family(TRANSFER_STAFF, client, context)


@sqlite_only
@bad_input(max_examples=250)
@given(data=st.data())
def test_the_transfer_and_advance_staff_forms_refuse_bad_input(
    app, runtime, world, transfer_staff, data
):
    """« Lettres à envoyer », « Envoyer la lettre à La Banque Postale », « Enregistrer
    les fonds reçus », « Relancer La Banque Postale », « Vérifier le montant reçu »;
    « Examiner la demande d'avance » (accorder, refuser), « Faire le virement de
    l'avance », « Enregistrer le remboursement »."""
    check_bad_input(runtime, transfer_staff, data)


@pytest.fixture
def transfer_portal(app: Any, runtime: Any, ad: Any, foreign_submission: str) -> list[Family]:
    """The attestation, the advance's request and its signature, each posted by a
    mandataire whose coop is where the form acts."""
    people = transfer_portal_context(app, runtime, ad, foreign_submission)
    settle(runtime)
    return [family(who, client, context) for who, (client, context) in people.items()]


@sqlite_only
@bad_input(max_examples=200)
@given(data=st.data())
def test_the_transfer_and_advance_portal_forms_refuse_bad_input(
    app, runtime, transfer_portal, data
):
    """« Solde Banque Postale » (the attestation), « Avance d'urgence » (the request with
    its quote, the contract's signature)."""
    people = data.draw(st.sampled_from(transfer_portal), label="mandataire")
    check_bad_input(runtime, people, data)


@pytest.fixture
def card_portal(app: Any, runtime: Any, ad: Any, foreign_submission: str) -> Family:
    """The card's request, posted by a mandataire whose card is to order."""
    [(who, (client, context))] = card_portal_context(app, runtime, ad, foreign_submission).items()
    settle(runtime)
    return family(who, client, context)


@sqlite_only
@bad_input(max_examples=150)
@given(data=st.data())
def test_the_card_portal_form_refuses_bad_input(app, runtime, card_portal, data):
    """« Carte bancaire » (the request: the address, the printed line, the box)."""
    check_bad_input(runtime, card_portal, data)


@pytest.fixture
def card_staff(app: Any, runtime: Any, world: World, ad: Any) -> Family:
    """The card order's staff forms, posted by an agent of the AD."""
    client, context = card_staff_context(app, runtime, ad, world.values["case_id"])
    settle(runtime)
    return family(CARD_STAFF, client, context)


@sqlite_only
@bad_input(max_examples=150)
@given(data=st.data())
def test_the_card_staff_forms_refuse_bad_input(app, runtime, world, card_staff, data):
    """« Approuver l'adresse de livraison » (approuver, refuser), « Enregistrer une carte
    revenue à l'AD », « Renvoyer la carte » (renvoyer, remettre), « Relancer la banque »,
    « Annuler la commande »."""
    check_bad_input(runtime, card_staff, data)


@sqlite_only
def test_every_state_changing_route_has_its_bad_input(app):
    writing = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
        # Signed calls of the mail relay, not forms: tests/web/webhooks/test_mail.py.
        and not rule.rule.startswith("/webhooks")
    }
    missing = sorted(writing - set(FORMS) - NO_INPUT)
    assert not missing, (
        "Ces routes écrivent sans mauvaise saisie testée : "
        + ", ".join(missing)
        + ". Décrivez leurs formulaires dans FORMS (tests/security/test_bad_input_forms.py)."
    )
    assert not set(FORMS) - writing, "FORMS décrit des routes qui n'existent plus"


def test_the_error_reader_sees_english():
    """The control of ``assert_refused``: an English error fails it."""
    response = Response(
        '<p class="error">Field cannot be longer than 254 characters.</p>', status=422
    )
    with pytest.raises(AssertionError, match="non traduit"):
        assert_refused(response, [], 422)
    assert errors_shown(response) == ["Field cannot be longer than 254 characters."]


@pytest.mark.parametrize("huge", [MAX_ID, MAX_ID + 1, 10**20], ids=["max", "33 bits", "67 bits"])
def test_an_id_no_database_can_hold_in_a_url_is_not_found(app, world, huge):
    """Every route with an ``<int:…>`` id, given the largest id or one no ``INTEGER``
    column holds (PostgreSQL's are 32 bits): 404, in French, on both backends."""
    ids = {
        "case_id",
        "task_id",
        "job_id",
        "email_id",
        "document_id",
        "step_id",
        "coop_id",
        "item_id",
    }
    values = {**world.values, **dict.fromkeys(ids, huge)}
    for rule in app.url_map.iter_rules():
        if not ids & set(rule.arguments):
            continue
        method = "POST" if "POST" in (rule.methods or ()) else "GET"
        client = world.clients[who_for(rule)]
        data = {
            "csrf_token": token_of(client, "/admin/" if who_for(rule) == "staff" else "/mon-espace")
        }
        response = client.open(
            url_of(rule, values_for(rule, world) | values), method=method, data=data
        )
        assert_refused(response, ["Cette page n'existe pas."], 404)
