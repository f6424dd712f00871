"""« Vérifier un document »: anyone holding an attestation checks its code at
``/verification`` (the code and this address are printed on it).

The answer says only whether the code is one of a document, and then the document's
title, its coop and its school year: nothing else about the coop, nothing about a
code that is not one. Both answers run the same indexed query, so their times do not
tell them apart; guessing is hopeless (60 bits a code) and limited per address all the
same. What people type is read loosely (case, spaces, dashes, O for 0, I or L for 1:
``workflows.verification_codes.normalized``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from web.extensions import limiter
from web.runtime import runtime
from workflows.engine.cross_process import school_year_label
from workflows.models import Case, Coop, Document
from workflows.typography import la_cooperative
from workflows.verification_codes import normalized

bp = Blueprint("verification", __name__)

#: Checks per client address: plenty for a person, nothing for a guesser.
LIMIT = "30 per minute;300 per day"
UNKNOWN = "Code inconnu."
TOO_MANY = "Trop de vérifications depuis votre adresse. Réessayez dans quelques minutes."


def answer_for(code: str | None) -> tuple[bool, str]:
    """Whether ``code`` (as typed) is a document's, and the one sentence the page says."""
    wanted = normalized(code)
    rt = runtime()
    with rt.db.read() as session:
        row = session.execute(
            select(Document.title, Coop.name, Coop.affiliation_number, Case.school_year)
            .join(Coop, Coop.id == Document.coop_id)
            .outerjoin(Case, Case.id == Document.case_id)
            .where(Document.verification_code == (wanted or ""))
        ).first()
    if row is None:
        return False, UNKNOWN
    title, name, number, year = row
    sentence = f"Document valide : {title} de {la_cooperative(name)} (n° {number})"
    if year is not None:
        sentence += f", année scolaire {school_year_label(year)}"
    return True, sentence + "."


@bp.errorhandler(429)
def too_many(_error: Exception) -> Any:
    page = render_template("verification.html", code="", answer=None, throttled=TOO_MANY)
    return page, 429


@bp.get("/verification")
@limiter.limit(LIMIT, exempt_when=lambda: not request.args.get("code", "").strip())
def check() -> Any:
    """The form; with ``?code=``, the answer beneath it."""
    typed = request.args.get("code", "").strip()[:100]
    answer = answer_for(typed) if typed else None
    shown = normalized(typed) or typed
    return render_template("verification.html", code=shown, answer=answer, throttled=None)
