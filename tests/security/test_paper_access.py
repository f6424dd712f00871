"""The transfer's letter and the advance's contracts and quote are the coop's own: its
mandataire and its AD's staff (and national staff) download them; another coop's
mandataire and another AD's staff get « not found », as for a document that does not
exist (issue 17, point 7)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.admin.conftest import log_in
from tests.factories import ADFactory, StaffFactory
from tests.transfer_helpers import advance_at, banking_done, eligible
from tests.web.conftest import log_in_mandataire, settle
from workflows.models import Document, StaffRole

KINDS = ("transfer_request", "advance_contract")


@pytest.fixture
def papers(runtime: Any, ad: Any) -> dict[str, Any]:
    """A coop of AD06 with its letter and its contract rendered by the workers, and a
    neighbour coop of the same AD."""
    engine = runtime.engine
    # The staff made first: no write of the tests' own beside the worker's afterwards.
    staff = {
        "ad06": StaffFactory(ad=ad, full_name="Claire Agent"),
        "ad50": StaffFactory(ad=ADFactory(code="AD50"), full_name="Agent Manche"),
        "national": StaffFactory(
            role=StaffRole.NATIONAL.value, ad=None, full_name="Nadia Nationale"
        ),
    }
    mandataire = eligible(engine, ad)  # attested, affiliated
    advance_at(engine, ad, "approved", mandataire=mandataire)  # the contract: a step
    settle(runtime)
    with runtime.db.read() as session:
        found = {
            d.kind: d.id
            for d in session.scalars(
                select(Document).where(
                    Document.coop_id == mandataire.coop_id, Document.kind.in_(KINDS)
                )
            )
        }
    assert set(found) == set(KINDS), found
    neighbour = banking_done(engine, ad)
    settle(runtime)  # the neighbour's steps too: nothing written after the fixture
    return {"owner": mandataire, "neighbour": neighbour, "documents": found, "staff": staff}


def _portal(client: Any, document_id: int) -> int:
    return client.get(f"/mon-espace/documents/{document_id}").status_code


def _backoffice(client: Any, coop_id: int, document_id: int) -> int:
    return client.get(f"/admin/cooperatives/{coop_id}/documents/{document_id}").status_code


def test_the_coops_mandataire_downloads_them_and_another_coops_gets_not_found(app, papers):
    owner, neighbour = papers["owner"], papers["neighbour"]
    mine = app.test_client()
    log_in_mandataire(app, mine, owner.id)
    theirs = app.test_client()
    log_in_mandataire(app, theirs, neighbour.id)
    for kind, document_id in papers["documents"].items():
        response = mine.get(f"/mon-espace/documents/{document_id}")
        assert response.status_code == 200, kind
        assert response.data.startswith(b"%PDF-")
        assert response.headers["Cache-Control"] == "private, no-store"
        assert _portal(theirs, document_id) == 404, kind


def test_the_ads_staff_download_them_and_another_ads_staff_get_not_found(app, papers):
    owner = papers["owner"]
    coop_id = owner.coop_id
    ad06, ad50, national = (papers["staff"][k] for k in ("ad06", "ad50", "national"))
    for user, expected in ((ad06, 200), (national, 200), (ad50, 404)):
        client = app.test_client()
        log_in(client, user)
        for kind, document_id in papers["documents"].items():
            assert _backoffice(client, coop_id, document_id) == expected, (user.full_name, kind)
    # The right staff, another coop's address for the document: not found either.
    client = app.test_client()
    log_in(client, ad06)
    for document_id in papers["documents"].values():
        assert _backoffice(client, papers["neighbour"].coop_id, document_id) == 404
