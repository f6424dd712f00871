"""The read-only lists: every column sorts, the coop search finds a mandataire's email."""

from __future__ import annotations

import pytest

from tests import factories
from tests.admin.conftest import log_in, text
from workflows.models import Coop


@pytest.mark.parametrize(
    ("path", "columns"),
    [("/admin/dossiers/", 8), ("/admin/emails/", 5), ("/admin/cooperatives/", 5)],
)
def test_every_list_sorts_by_each_of_its_columns(client, national, make_case, path, columns):
    make_case("expired")
    make_case("created")
    log_in(client, national)
    for index in range(columns):
        for desc in ("0", "1"):
            response = client.get(path, query_string={"sort": index, "desc": desc})
            assert response.status_code == 200, (path, index, desc)


def test_the_coop_search_finds_a_mandataire_by_email_once(
    client, factory_session, staff06, make_case
):
    case = make_case("created", email="helene.dupre@ac-nice.fr")
    # The coop's mandataire changed: it has two of them now, and is still listed once.
    coop = factory_session.get(Coop, case.coop_id)
    factories.MandataireFactory(coop=coop, email="helene.dupre2@ac-nice.fr")
    make_case("created")
    log_in(client, staff06)
    found = text(client.get("/admin/cooperatives/", query_string={"search": "dupre"}))
    assert found.count(case.coop.affiliation_number) == 1
    assert "helene.dupre@ac-nice.fr, helene.dupre2@ac-nice.fr" in found
