"""« Relevé bancaire »: an AD's staff load the CSV statement of the AD's bank account;
each credit line whose label carries an affiliation's reference and whose amount is its
fee checks that affiliation's payment (:mod:`workflows.processes.affiliation.statement`).
The page answers with the report: what matched, what did not and why, line by line.

Acting staff only; AD staff load their AD's statement, national staff choose the AD whose
account it is (the lines are matched to that AD's affiliations). Loading the same file
again validates nothing twice: its matched lines are reported as already loaded.
"""

from __future__ import annotations

from typing import Any

from flask_admin import Admin, BaseView, expose
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from admin.access import StaffView, acting_staff, ads_in_scope
from admin.forms import ChoiceIdField
from admin.imports import MAX_BYTES, check_upload
from web.auth import current_staff
from web.runtime import runtime
from workflows.engine.actor import Actor
from workflows.models import AD
from workflows.processes.affiliation.statement import (
    ALREADY_LOADED,
    MATCHED,
    OUTCOME_LABELS,
    load_statement,
)
from workflows.scope import can_see

AD_MISSING = "Choisissez l'AD dont c'est le relevé."


class StatementForm(FlaskForm):
    ad_id = ChoiceIdField("Compte bancaire de l'AD", AD_MISSING)
    file = FileField(
        "Relevé bancaire (CSV exporté de la banque)",
        validators=[FileRequired("Choisissez le fichier CSV du relevé.")],
    )


class StatementView(StaffView, BaseView):
    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def is_visible(self) -> bool:
        principal = current_staff()
        return principal is not None and principal.can_act

    def _ads(self) -> list[AD]:
        return ads_in_scope(self.session, acting_staff())

    def _page(self, form: StatementForm, status: int = 200, **context: Any) -> Any:
        page = self.render(
            "coopflow_admin/affiliation_statement.html",
            form=form,
            labels=OUTCOME_LABELS,
            matched=MATCHED,
            already_loaded=ALREADY_LOADED,
            **context,
        )
        return page, status

    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        """The upload form; posted, the statement loaded and its report."""
        principal = acting_staff()
        form = StatementForm()
        ads = self._ads()
        form.ad_id.choices = [(ad.id, f"{ad.code} · {ad.name}") for ad in ads]
        if not form.is_submitted() and len(ads) == 1:
            form.ad_id.data = ads[0].id
        if not form.validate_on_submit():
            return self._page(form, 422 if form.is_submitted() else 200)
        ad = self.session.get(AD, form.ad_id.data)
        if ad is None or not can_see(principal, ad.id):
            form.ad_id.errors = [AD_MISSING]
            return self._page(form, 422)
        upload = form.file.data
        content = upload.stream.read(MAX_BYTES + 1)
        problem = check_upload(upload.filename or "", upload.content_type or "", content)
        if problem:
            form.file.errors = [problem]
            return self._page(form, 422)
        report = load_statement(
            runtime().engine, ad.id, content, upload.filename or "", Actor.staff(principal)
        )
        if report.file_error:
            form.file.errors = [report.file_error]
            return self._page(form, 422)
        return self._page(form, 200, report=report, ad=ad)


def register(admin: Admin, session: Any) -> None:
    """Adds « Relevé bancaire » to the back-office's menu."""
    admin.add_view(
        StatementView(session, name="Relevé bancaire", endpoint="statement", url="releve-bancaire")
    )
