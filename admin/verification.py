"""« Vérifier une attestation »: staff check a code printed on a document, and see the
document itself (its title, coop, year, date, hash, and a link to download it).

Scoped like every page (:mod:`workflows.scope`): a code of a coop outside the staff
member's AD reads « inconnu », as a code that is none.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_admin import BaseView, expose
from sqlalchemy import select
from sqlalchemy.orm import defer

from admin.access import StaffView, staff
from workflows.engine.cross_process import school_year_label
from workflows.models import Case, Coop, Document
from workflows.scope import ad_condition
from workflows.verification_codes import normalized

UNKNOWN = "Code inconnu (ou d'une coopérative hors de votre association départementale)."


class VerificationView(StaffView, BaseView):
    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    @expose("/")
    def index(self) -> Any:
        """The form; with ``?code=``, the document of the code, or « inconnu »."""
        typed = request.args.get("code", "").strip()[:100]
        code = normalized(typed)
        found = self._document(code) if code else None
        document, coop = found if found is not None else (None, None)
        year = None
        if document is not None and document.case_id is not None:
            case = self.session.get(Case, document.case_id)
            if case is not None and case.school_year is not None:
                year = school_year_label(case.school_year)
        return self.render(
            "coopflow_admin/verification.html",
            typed=code or typed,
            document=document,
            coop=coop,
            year=year,
            unknown=UNKNOWN if typed and document is None else None,
        )

    def _document(self, code: str) -> tuple[Document, Coop] | None:
        """The document of ``code`` and its coop, if the staff member sees its AD."""
        row = self.session.execute(
            select(Document, Coop)
            .join(Coop, Coop.id == Document.coop_id)
            .where(Document.verification_code == code, ad_condition(staff()))
            .options(defer(Document.content))
        ).one_or_none()
        return None if row is None else (row[0], row[1])


def register(admin: Any, session: Any) -> None:
    """Add « Vérifier une attestation » to the back-office's menu."""
    admin.add_view(
        VerificationView(
            session, name="Vérifier une attestation", endpoint="code_check", url="verification"
        )
    )
