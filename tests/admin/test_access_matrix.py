"""Who reaches what, for every back-office route of the app (role × AD × route).

The routes come from ``app.url_map``: a new route is in the matrix the day it exists,
and a route with a parameter this file does not know fails the test until it is given
a value. CSRF is switched off here (its own tests prove it is required): the matrix
is about who may act, not about tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from tests import factories
from tests.admin.conftest import log_in
from tests.helpers import invitation_email, manual_task, space_summary
from workflows.engine import bulk
from workflows.models import Case, Mandataire, PriceItem, StaffRole, Step

#: Pages whose only purpose is a change (an edit form): read-only accounts are refused
#: them even to read.
ACTING_PAGES = {
    "coops.coop_edit",
    # The staff tasks' pages (admin/processes): a RIB in full, Swan's statuses.
    "cases.review_rib",
    "cases.rib_file",
    "cases.mismatch",
    "cases.identity",
    # « Tarifs d'adhésion »: adding or correcting an item.
    "prices.create",
    "prices.edit",
    # The affiliation's task pages: the three items, a new deadline.
    "cases.affiliation_items",
    "cases.affiliation_extend",
    # The transfer's and the advance's task pages: the old account, a quote, a decision.
    "cases.transfer_letter",
    "cases.transfer_funds",
    "cases.advance_review",
    "cases.advance_quote",
    "cases.advance_disbursement",
    "cases.advance_repayment",
    # The card order's task pages: the address to approve, a card back at the AD.
    "cases.card_address",
    "cases.card_return",
    "cases.card_returned",
}
#: Reachable without a staff session (the login form and its static files).
PUBLIC = {"admin.login", "admin.logout", "admin.static", "bulk.static", "coopflow_admin.static"}
#: Flask-Admin's generic editing views: never reachable by anyone.
NEVER = {
    f"{view}.{name}"
    for view in ("coops", "emails")
    for name in (
        "create_view",
        "edit_view",
        "delete_view",
        "action_view",
        "ajax_update",
        "ajax_lookup",
        "details_view",
    )
}
#: Routes that are not about one AD's objects: lists (scoped by their content, tested
#: elsewhere), the import form (checks the AD it is given), job creation (checks every
#: selected case).
GLOBAL = {
    "admin.index",
    "cases.index_view",
    "tasks.index",
    "coops.index_view",
    "coops.export",
    "emails.index_view",
    "emails.export",
    "import.index",
    "import.confirm",
    "import.template",
    # A bank statement's lines are matched within the AD the form names (checked).
    "statement.index",
    # An import's report is its author's, by the token of the form (none here: 404).
    "import.result",
    "dashboard.index",
    "case_export.index",
    "case_export.export",
    "bulk.index",
    "bulk.create",
    # A process's page counts the cases of the staff member's scope, by state.
    "processus.index",
    "processus.process_page",
    # « Tarifs d'adhésion »: an AD's list (asked by ``?ad=``, checked against the scope),
    # the new item's form for it, the upload (each line's AD checked against the scope).
    "prices.index",
    "prices.create",
    "prices.upload",
    # « Vérifier une attestation »: a code searched within the staff member's scope (a
    # code of another AD's coop reads « inconnu »: tests/admin/test_verification.py).
    "code_check.index",
    # « Lettres à envoyer »: the letters of the scope's cases; each ticked case is
    # checked against the scope when marked (tests/admin/test_transfer_forms.py).
    "transfer_letters.index",
    "transfer_letters.letters_pdf",
    "transfer_letters.mark",
}


@dataclass
class Objects:
    """One of each object of one AD, for the ids in the URLs."""

    case_id: int
    step_id: int
    task_id: int
    email_id: int
    job_id: int
    coop_id: int
    document_id: int
    price_item_id: int


def _objects(rt: Any, make_case: Any, of: Any, owner: Any) -> Objects:
    case = make_case("failed", of=of)
    with rt.engine.transaction() as tx:
        locked = tx.lock(case.id)
        task = manual_task(tx, locked, "Appeler l'école", days=3)
        email = invitation_email(f"matrix-{case.id}", case.id, case.coop_id, "x@ac-nice.fr")
        document = space_summary(f"matrix-{case.id}", case.id, case.coop_id)
        price = PriceItem(
            ad_id=of.id,
            school_year=2026,
            code="forfait",
            kind="forfait",
            label="Forfait",
            price_cents=800,
        )
        tx.session.add_all([email, document, price])
        tx.session.flush()
        task_id, email_id, document_id = task.id, email.id, document.id
        step_id = tx.session.scalars(select(Step.id).where(Step.case_id == case.id)).one()
        job = bulk.create(
            tx,
            staff_id=owner.id,
            action="assign",
            params={"assignee_id": None},
            case_ids=[case.id],
            comment="matrice d'accès",
            description="test",
        )
        tx.session.flush()
        job_id = job.id
    return Objects(case.id, step_id, task_id, email_id, job_id, case.coop_id, document_id, price.id)


def _url(rule: Rule, objects: Objects) -> str:
    values = {
        "case_id": objects.case_id,
        "step_id": objects.step_id,
        "task_id": objects.task_id,
        "email_id": objects.email_id,
        "job_id": objects.job_id,
        "coop_id": objects.coop_id,
        "document_id": objects.document_id,
        "item_id": objects.price_item_id,
        "trigger": "resend",
        "process": "invitation",
        "fmt": "csv",
        "export_type": "csv",
        "filename": "x.js",
        "token": "unjetondeformulairequinexistepas",
    }
    unknown = set(rule.arguments) - set(values)
    assert not unknown, f"{rule.rule}: give the matrix a value for {unknown}"
    return rule.build({k: values[k] for k in rule.arguments})[1]


def _admin_rules(app: Flask) -> list[tuple[Rule, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule, method))
    # « Abandonner » deletes the draft job the other job routes are called with: last.
    return sorted(out, key=lambda r: ("abandonner" in r[0].rule, r[0].rule, r[1]))


def _call(client: FlaskClient, method: str, url: str) -> int:
    response = client.open(url, method=method, data={})
    return response.status_code


@pytest.fixture
def world(app, rt, ad, ad50, staff06, make_case):
    app.config["WTF_CSRF_ENABLED"] = False
    staff50 = factories.StaffFactory(ad=ad50, full_name="Agent Manche")
    return {
        "AD06": _objects(rt, make_case, ad, staff06),
        "AD50": _objects(rt, make_case, ad50, staff50),
    }


def test_the_matrix_covers_every_admin_route(app):
    endpoints = {rule.endpoint for rule, _ in _admin_rules(app)}
    unknown = endpoints - PUBLIC - NEVER - GLOBAL
    object_routes = {e for e in unknown if any(a.endswith("_id") for a in _args(app, e))}
    assert unknown == object_routes, (
        f"routes the matrix does not classify: {unknown - object_routes}"
    )


def _args(app: Flask, endpoint: str) -> set[str]:
    return {a for r in app.url_map.iter_rules(endpoint=endpoint) for a in r.arguments}


def test_anonymous_visitors_are_sent_to_the_login(app, client, world):
    failures = []
    for rule, method in _admin_rules(app):
        if rule.endpoint in PUBLIC:
            continue
        code = _call(client, method, _url(rule, world["AD06"]))
        if code != 302:
            failures.append(f"{method} {rule.rule}: {code}")
    assert not failures, failures


def test_a_mandataire_gets_nothing(app, client, world, make_case):
    case = make_case("created")
    with app.extensions["coopflow"].db.read() as session:
        person = session.get(Case, case.id).data["mandataire_id"]
    with app.extensions["coopflow"].db.write() as session:
        mandataire = session.get(Mandataire, person)
        mandataire.password_hash = "set"  # a mandataire who has logged in
    log_in(client, mandataire)
    failures = []
    for rule, method in _admin_rules(app):
        if rule.endpoint in PUBLIC:
            continue
        code = _call(client, method, _url(rule, world["AD06"]))
        if code != 403:
            failures.append(f"{method} {rule.rule}: {code}")
    assert not failures, failures


@pytest.mark.parametrize("who", ["ad", "readonly", "national"])
def test_staff_reach_their_scope_and_only_it(app, client, rt, ad, world, staff06, who):
    user = {
        "ad": staff06,
        "readonly": factories.StaffFactory(ad=ad, role=StaffRole.READONLY.value),
        "national": factories.StaffFactory(role=StaffRole.NATIONAL.value, ad=None),
    }[who]
    failures = []
    for rule, method in _admin_rules(app):
        if rule.endpoint in PUBLIC or rule.endpoint == "admin.logout":
            continue
        for target in ("AD06", "AD50"):
            if rule.endpoint in GLOBAL and target == "AD50":
                continue
            log_in(client, user)
            code = _call(client, method, _url(rule, world[target]))
            expected = _expected(rule.endpoint, method, who, target)
            if not expected(code):
                failures.append(f"{who} {method} {rule.rule} ({target}): {code}")
    assert not failures, "\n".join(failures)


def _expected(endpoint: str, method: str, who: str, target: str) -> Any:
    """What a staff member of AD06 (or national) must get from a route."""
    if endpoint in NEVER:
        return lambda code: code in (403, 404)
    if endpoint.startswith("bulk.") and endpoint not in GLOBAL:
        # A bulk job is its author's (staff06 here): everyone else is told it does not exist.
        if who == "ad" and target == "AD06":
            return lambda code: code in (200, 302, 303)
        return lambda code: code in (403, 404)
    if (endpoint.startswith(("import.", "statement.")) or endpoint in ACTING_PAGES) and (
        who == "readonly"
    ):
        return lambda code: code == 403
    if endpoint == "import.result":
        return lambda code: code == 404
    if who == "readonly" and method == "POST":
        return lambda code: code == 403
    outside = target == "AD50" and who != "national"
    if outside:
        # Another AD's object: as if it did not exist (or refused), never shown or done.
        return lambda code: code in (403, 404)
    if endpoint == "case_export.index":
        return lambda code: code == 404
    # In scope: shown, done, or refused by the action's own rules (422/409 in French).
    return lambda code: code in (200, 302, 409, 422)
