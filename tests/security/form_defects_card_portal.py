"""The portal's card request in the table of ``test_bad_input_forms``
(``CARD_PORTAL_FORMS``, merged into ``FORMS``): « Carte bancaire », with the French
messages it shows, for the error reader. It is posted by a mandataire whose coop may
order its card (:func:`card_portal_context`). A defect of the address changes it from
the school's: it comes with a reason, so that its own refusal is the only one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from sqlalchemy import select

from tests.card_helpers import to_order
from tests.security.bad_input import BLANK, KNOWN_MESSAGES, norm, too_long
from tests.security.conftest import token_of
from tests.security.form_defects import DETAILS_REFUSED, Context, Defect, Form, Values, one, says
from tests.security.form_defects_bank import FOREIGN_TOKEN, _nul_in
from tests.web.conftest import log_in_mandataire
from web.portal import card_form
from workflows.engine.engine import Engine
from workflows.models import Mandataire, Step, StepStatus

#: Who posts it: a mandataire whose card is to order.
ORDERING = "card_ordering_mandataire"
PAGE = "/mon-espace/carte"
#: Any character but a control one (refused as such, before what a postal code takes).
PRINTABLE = st.characters(exclude_categories=("Cs", "Cc"))
#: Another address's reason: an address defect's only refusal is its own.
ELSEWHERE = {"reason": "L'école est fermée en juillet."}

#: The messages the page shows (« 39 caractères : 38 au plus. » whatever the counts).
_SHOWN = [
    re.escape(norm(message))
    for message in (
        card_form.LINE1_REQUIRED,
        card_form.POSTAL_CODE_REQUIRED,
        card_form.POSTAL_CODE_CHARACTERS,
        card_form.CITY_REQUIRED,
        card_form.REASON_REQUIRED,
        card_form.NOT_RESPONSIBLE,
        card_form.CONTROL,
    )
] + [r"[0-9]+ caractères : [0-9]+ au plus\."]


def _refused(*messages: str) -> Callable[[Values], list[str]]:
    return says(DETAILS_REFUSED, *messages)


def _counted(field: str, limit: int) -> Callable[[Values], list[str]]:
    """« 39 caractères : 38 au plus. », the count of what was typed (stripped)."""

    def said(values: Values) -> list[str]:
        count = len(str(values[field]).strip())
        assert count > limit, values
        return [DETAILS_REFUSED, card_form.too_long(count, limit)]

    return said


def _elsewhere(field: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[Values]:
    return values.map(lambda v: {field: v, **ELSEWHERE})


def _not_a_postal_code(typed: str) -> bool:
    return bool(typed.strip()) and card_form.postal_code_of(typed) is None


def _address_defects(field: str, limit: int, missing: str | None) -> tuple[Defect, ...]:
    found = [
        Defect(
            f"{field} trop long",
            _elsewhere(field, too_long(limit)),
            _counted(field, limit),
        )
    ]
    if missing:
        found.append(Defect(f"{field} vide", _elsewhere(field, BLANK), _refused(missing)))
    return tuple(found)


CARD = {
    "line1": "12 rue de la République",
    "line2": "",
    "postal_code": "06000",
    "city": "Nice",
    "reason": "",
    "printed_line": "COOP ECOLE JULES-FERRY",
    "responsible": "y",
}
CARD_DEFECTS = (
    *_address_defects("line1", card_form.LINE_MAX, card_form.LINE1_REQUIRED),
    *_address_defects("line2", card_form.LINE_MAX, None),
    *_address_defects("postal_code", card_form.POSTAL_CODE_MAX, card_form.POSTAL_CODE_REQUIRED),
    *_address_defects("city", card_form.CITY_MAX, card_form.CITY_REQUIRED),
    Defect(
        "code postal aux caractères refusés",
        _elsewhere(
            "postal_code",
            st.text(PRINTABLE, min_size=1, max_size=10).filter(_not_a_postal_code),
        ),
        _refused(card_form.POSTAL_CODE_CHARACTERS),
    ),
    Defect(
        "autre adresse sans motif",
        st.tuples(st.sampled_from(["line1", "city"]), st.just("Ailleurs"), BLANK).map(
            lambda t: {t[0]: t[1], "reason": t[2]}
        ),
        _refused(card_form.REASON_REQUIRED),
    ),
    Defect(
        "motif trop long",
        st.tuples(too_long(2000)).map(lambda t: {"city": "Antibes", "reason": t[0]}),
        _counted("reason", 2000),
    ),
    Defect(
        "ligne imprimée trop longue",
        one("printed_line", too_long(26)),
        _counted("printed_line", 26),
    ),
    Defect(
        "ligne imprimée sur deux lignes",
        st.tuples(st.sampled_from(["COOP", "ÉCOLE"]), st.sampled_from(["\n", "\t", "\x1f"])).map(
            lambda t: {"printed_line": f"{t[0]}{t[1]}{t[0]}"}
        ),
        _refused(card_form.CONTROL),
    ),
    Defect(
        "responsabilité non cochée",
        one("responsible", st.sampled_from([None, "", "false"])),
        _refused(card_form.NOT_RESPONSIBLE),
    ),
    FOREIGN_TOKEN,
    _nul_in("line1", "postal_code", "city", "reason", "printed_line", "submission"),
)

CARD_PORTAL_FORMS: dict[str, tuple[Form, ...]] = {
    "portal.card_order.order": (Form(ORDERING, PAGE, CARD, CARD_DEFECTS),),
}


def card_portal_context(
    app: Flask, runtime: Any, ad: Any, foreign_submission: str
) -> dict[str, tuple[FlaskClient, Context]]:
    """The session and context of a mandataire whose card is to order.

    Set up by an engine that hands nothing to the workers, then what is left to do
    handed to them (the test settles)."""
    quiet = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    person, _ = to_order(quiet, ad)
    with runtime.db.read() as session:
        pending = list(
            session.scalars(select(Step.id).where(Step.status == StepStatus.PENDING.value))
        )
    runtime.engine.publish(pending)
    with runtime.db.write() as session:
        session.get(Mandataire, person.id).password_hash = "argon2-hash-of-the-tests"
    client = app.test_client()
    log_in_mandataire(app, client, person.id)
    context = {"csrf": token_of(client, PAGE), "foreign_submission": foreign_submission}
    return {ORDERING: (client, context)}


KNOWN_MESSAGES.extend(re.compile(pattern, re.S) for pattern in _SHOWN)
