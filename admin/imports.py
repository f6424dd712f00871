"""« Importer des coopératives »: upload a CSV, see what it would do, then confirm.

Between the preview and the confirmation the file travels back with the confirm form,
signed with the secret key (itsdangerous, compressed, valid one hour, bound to the
staff member, the AD and the invitation choice): the server keeps no state, so this
works with several web processes on several machines, and the client cannot change a
byte of what was previewed. A CSV compresses well: the signed copy of a 5 MB file
weighs about 1 MB, far below the request size limit.
"""

from __future__ import annotations

import csv
import io
from contextlib import suppress
from typing import Any

from flask import Response, abort, current_app, flash, request, url_for
from flask_admin import BaseView, expose
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from admin.access import StaffView, acting_staff, ads_in_scope
from admin.forms import ConfirmImportForm, ImportForm
from web.auth import current_staff
from web.runtime import runtime
from web.submissions import Submission, staff_owner
from workflows.coop_csv import COLUMNS
from workflows.coop_import import ImportReport, import_coops, parse_coops
from workflows.engine.engine import Actor
from workflows.models import AD
from workflows.scope import can_see
from workflows.submissions import ForeignSubmission, as_token, earlier

MAX_BYTES = 5 * 1024 * 1024
#: Browsers label a CSV file in many ways (Excel on Windows says ``vnd.ms-excel``).
CSV_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "application/csv",
        "text/comma-separated-values",
        "application/vnd.ms-excel",
        "application/octet-stream",
        "",
    }
)
#: Spreadsheet files renamed ``.csv``: a zip (xlsx, ods) or an OLE container (xls).
SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
PREVIEW_MAX_AGE = 3600
TEMPLATE_NAME = "modele-import-cooperatives.csv"
#: Room left in a request for the confirm form's other fields.
FORM_MARGIN = 64 * 1024


#: The example line of the template: every column, values that import cleanly once the
#: mandataire's email is on the AD's academic domain (``{domain}``).
TEMPLATE_EXAMPLE = {
    "numero_affiliation": "0069999Z",
    "nom_cooperative": "Coopérative de l'école Exemple",
    "ecole": "École élémentaire Exemple",
    "adresse": "1 rue de l'Exemple",
    "code_postal": "06000",
    "commune": "Nice",
    "email_ecole": "ce.0069999z@{domain}",
    "prenom_mandataire": "Camille",
    "nom_mandataire": "Exemple",
    "email_mandataire": "camille.exemple@{domain}",
}


def csv_template(ad: AD | None) -> bytes:
    """The file to fill in: the documented columns (``workflows.coop_csv.COLUMNS``) and
    one example line, in UTF-8 with a BOM and « ; » (what a French spreadsheet opens)."""
    domain = ad.academic_domains[0] if ad is not None and ad.academic_domains else "ac-nice.fr"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.header for c in COLUMNS])
    writer.writerow([TEMPLATE_EXAMPLE[c.header].format(domain=domain) for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="coopflow.admin.import")


def check_upload(filename: str, content_type: str, content: bytes) -> str | None:
    """Why the uploaded file is refused before reading it as CSV, in French, or ``None``."""
    if not filename.lower().endswith(".csv"):
        return (
            "Le fichier doit être au format CSV (.csv) : dans votre tableur, choisissez "
            "« Enregistrer sous » puis le format « CSV UTF-8 »."
        )
    if len(content) > MAX_BYTES:
        return "Le fichier dépasse 5 Mo : découpez-le en plusieurs fichiers."
    if content.startswith(SPREADSHEET_MAGIC) or b"\x00" in content:
        return (
            "Ce fichier est un classeur de tableur renommé, pas un CSV : dans votre "
            "tableur, choisissez « Enregistrer sous » puis le format « CSV UTF-8 »."
        )
    if content_type.split(";")[0].strip().lower() not in CSV_TYPES:
        return f"Ce type de fichier ({content_type}) n'est pas un CSV."
    return None


class ImportView(StaffView, BaseView):
    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def is_visible(self) -> bool:
        principal = current_staff()
        return principal is not None and principal.can_act

    def _ads(self) -> list[AD]:
        return ads_in_scope(self.session, acting_staff())

    def _form(self) -> ImportForm:
        form = ImportForm()
        form.ad_id.choices = [(ad.id, f"{ad.code} · {ad.name}") for ad in self._ads()]
        return form

    def _page(self, form: ImportForm, status: int = 200, **context: Any) -> Any:
        return self.render("coopflow_admin/import.html", form=form, **context), status

    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        """The upload form; posted, the preview of what the file would do."""
        form = self._form()
        if not form.validate_on_submit():
            return self._page(form, 422 if form.is_submitted() else 200)
        principal = acting_staff()
        ad = self.session.get(AD, form.ad_id.data)
        if ad is None or not can_see(principal, ad.id):
            form.ad_id.errors = ["Choisissez une AD de la liste."]
            return self._page(form, 422)
        upload = form.file.data
        content = upload.stream.read(MAX_BYTES + 1)
        problem = check_upload(upload.filename or "", upload.content_type or "", content)
        if problem:
            form.file.errors = [problem]
            return self._page(form, 422)
        parsed = parse_coops(content, ad)
        confirm = None
        if parsed.rows and not parsed.file_errors:
            payload = _serializer().dumps(
                {
                    "ad": ad.id,
                    "invite": bool(form.invite.data),
                    "by": principal.id,
                    "name": upload.filename,
                    "csv": content.decode("utf-8-sig"),
                }
            )
            limit = request.max_content_length
            if limit is not None and len(payload) > limit - FORM_MARGIN:
                form.file.errors = [
                    "Ce fichier est trop volumineux pour être importé en une "
                    "fois : découpez-le en plusieurs fichiers."
                ]
                return self._page(form, 422)
            confirm = ConfirmImportForm(formdata=None, payload=payload)
        return self._page(
            form,
            200,
            ad=ad,
            parsed=parsed,
            confirm=confirm,
            filename=upload.filename,
            invite=bool(form.invite.data),
        )

    @expose("/modele.csv")
    def template(self) -> Any:
        """The CSV to fill in, for the staff member's AD (a national one: the first)."""
        ads = self._ads()
        response = Response(csv_template(ads[0] if ads else None), mimetype="text/csv")
        response.headers.set("Content-Disposition", "attachment", filename=TEMPLATE_NAME)
        return response

    @expose("/confirmer", methods=("POST",))
    def confirm(self) -> Any:
        """Import the previewed file, once per preview: a second click (or a reload) of
        « Confirmer l'import » leads to the first import's report."""
        principal = acting_staff()
        form = ConfirmImportForm()
        if not form.validate_on_submit():
            flash("Aperçu manquant : recommencez l'import.", "error")
            return self._page(self._form(), 422)
        once = Submission(staff_owner(principal.id))
        rt = runtime()
        with rt.db.read() as session:
            if once.earlier(session):  # even once the preview is more than an hour old
                return once.replay()
        try:
            data = _serializer().loads(form.payload.data, max_age=PREVIEW_MAX_AGE)
        except SignatureExpired:
            flash("L'aperçu date de plus d'une heure : recommencez l'import.", "error")
            return self._page(self._form(), 422)
        except BadSignature:
            abort(400)
        if data["by"] != principal.id or not can_see(principal, data["ad"]):
            abort(403)
        with rt.engine.transaction() as tx:
            if once.claim(tx.session):
                ad = tx.session.get(AD, data["ad"])
                if ad is None:
                    abort(404)
                report = import_coops(
                    tx,
                    ad,
                    data["csv"].encode(),
                    invite=data["invite"],
                    actor=Actor.staff(principal),
                )
                result = _report(report, f"{ad.code} · {ad.name}", data["name"])
                url = url_for(".result", token=once.token) if once.token else ""
                once.done(tx.session, url, report=result)
        if once.replayed:
            return once.replay()
        return self._result_page(result)

    @expose("/rapport/<token>")
    def result(self, token: str) -> Any:
        """The report of an import, to the staff member who confirmed it."""
        principal = acting_staff()
        valid, found = as_token(token), None
        if valid is not None:
            with runtime().db.read() as session, suppress(ForeignSubmission):
                found = earlier(session, valid, staff_owner(principal.id))
        if not found or "report" not in found:  # someone else's is « not found » too
            abort(404)
        return self._result_page(found["report"])

    def _result_page(self, report: dict[str, Any]) -> Any:
        return self.render("coopflow_admin/import_result.html", report=report)


def _report(report: ImportReport, ad_label: str, filename: str) -> dict[str, Any]:
    """What the report page shows, as it is stored with the submission."""
    return {
        "filename": filename,
        "ad": ad_label,
        "summary": report.summary(),
        "refused": bool(report.file_errors),
        "errors": [str(e) for e in report.errors],
    }
