"""« Tarifs d'adhésion »: each AD's price list per school year (the affiliation fee's
flat fee, prices per pupil and per teacher, options), for staff to read, add to, correct
and load from CSV.

National staff see every AD's lists, everyone else their own AD's; read-only accounts
read without changing. Every change is checked like a line of the CSV import
(:mod:`workflows.processes.affiliation.price_import`: prices typed in euros, « 1,73 »,
kept in integer cents), refused in French without writing anything, and records who
and when on the item. A change never alters an affiliation already submitted: its fee
was frozen in its case.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from admin.access import StaffView, acting_staff, ads_in_scope, staff
from admin.imports import MAX_BYTES, check_upload
from web.runtime import runtime
from workflows.engine.cross_process import school_year_label, school_year_of
from workflows.formatting import euros
from workflows.models import AD, PriceItem
from workflows.processes.affiliation.price_import import (
    COLUMNS,
    KIND_LABELS,
    SINGLE_KINDS,
    PriceImportReport,
    PriceRow,
    check_item,
    create_item,
    import_price_lists,
    list_conflict,
    lock_ads,
    update_item,
)
from workflows.scope import can_see

#: The form's fields and the CSV columns they stand for (the same checks run on both).
FIELDS = {
    "code": "code",
    "kind": "type",
    "label": "libelle",
    "price": "prix",
    "federation_share": "part_federation",
    "position": "ordre",
}


class PriceItemForm(FlaskForm):
    """Every value is text, checked by ``check_item``: a price is never a float."""

    code = StringField("Code (lettres minuscules, chiffres et «\u00a0_\u00a0»)")
    kind = SelectField(
        "Type",
        choices=[SelectChoice(k, t) for k, t in KIND_LABELS.items()],
        validate_choice=False,
    )
    label = StringField("Libellé (tel que le mandataire le lit)")
    price = StringField("Prix en euros (par exemple 1,73)")
    federation_share = StringField("Part de la fédération en euros (facultatif)")
    position = StringField("Ordre dans la liste (facultatif)")


class UploadForm(FlaskForm):
    file = FileField(
        "Fichier CSV des tarifs",
        validators=[FileRequired("Choisissez le fichier CSV à importer.")],
    )


class DeleteForm(FlaskForm):
    """CSRF only: « Supprimer ce tarif »."""


class PriceListView(StaffView, BaseView):
    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    # Reading -------------------------------------------------------------------------

    def _ads(self) -> list[AD]:
        return ads_in_scope(self.session, staff())

    def _ad(self, raw: str | None) -> AD:
        """The AD asked for (``?ad=<id>``) in the staff member's scope, else 404; none
        asked: their own AD, or the first one for national staff."""
        principal = staff()
        if raw is None:
            ads = self._ads()
            if not ads:
                abort(404)
            return next((a for a in ads if a.id == principal.ad_id), ads[0])
        readable = raw.isascii() and raw.isdecimal() and len(raw) < 10
        ad = self.session.get(AD, int(raw)) if readable else None
        if ad is None or not can_see(principal, ad.id):
            abort(404)
        return ad

    def _year(self, raw: str | None) -> int:
        if raw is None:
            return school_year_of(runtime().engine.clock.now())
        if not (raw.isascii() and raw.isdecimal()) or not 2000 <= int(raw) <= 2099:
            abort(404)
        return int(raw)

    def _items(self, ad_id: int, year: int) -> list[PriceItem]:
        return list(
            self.session.scalars(
                select(PriceItem)
                .where(PriceItem.ad_id == ad_id, PriceItem.school_year == year)
                .order_by(PriceItem.position, PriceItem.id)
            )
        )

    def _item(self, item_id: int) -> PriceItem:
        item = self.session.get(PriceItem, item_id)
        if item is None or not can_see(staff(), item.ad_id):
            abort(404)
        return item

    @expose("/")
    def index(self) -> Any:
        """An AD's list for a school year (the current one by default)."""
        ad = self._ad(request.args.get("ad"))
        year = self._year(request.args.get("annee"))
        items = self._items(ad.id, year)
        stored = self.session.scalars(
            select(PriceItem.school_year).where(PriceItem.ad_id == ad.id).distinct()
        )
        current = school_year_of(runtime().engine.clock.now())
        years = sorted({*stored, current, current + 1, year})
        kinds = {i.kind for i in items}
        missing = [name for kind, name in SINGLE_KINDS.items() if kind not in kinds]
        return self.render(
            "coopflow_admin/processes/affiliation_prices.html",
            ad=ad,
            ads=self._ads(),
            year=year,
            years=[(y, school_year_label(y)) for y in years],
            items=items,
            missing=missing,
            kinds=KIND_LABELS,
            euros=euros,
            label=school_year_label,
            can_act=staff().can_act,
            upload=UploadForm(formdata=None),
            columns=COLUMNS,
        )

    # Changing ------------------------------------------------------------------------

    @expose("/ajouter", methods=("GET", "POST"))
    def create(self) -> Any:
        acting_staff()
        ad = self._ad(request.args.get("ad"))
        year = self._year(request.args.get("annee"))
        form = PriceItemForm() if request.method == "POST" else PriceItemForm(formdata=None)
        if request.method == "POST" and form.validate_on_submit() and self._save(form, ad, year):
            return redirect(url_for(".index", ad=ad.id, annee=year))
        return self._form_page(form, ad, year, None)

    @expose("/<int:item_id>/modifier", methods=("GET", "POST"))
    def edit(self, item_id: int) -> Any:
        acting_staff()
        item = self._item(item_id)
        ad = self.session.get(AD, item.ad_id)
        assert ad is not None
        form = PriceItemForm() if request.method == "POST" else PriceItemForm(formdata=None)
        if request.method == "GET":
            form.code.data, form.kind.data, form.label.data = item.code, item.kind, item.label
            form.price.data = _typed(item.price_cents)
            form.federation_share.data = _typed(item.federation_share_cents)
            form.position.data = str(item.position)
        elif form.validate_on_submit() and self._save(form, ad, item.school_year, item):
            return redirect(url_for(".index", ad=ad.id, annee=item.school_year))
        return self._form_page(form, ad, item.school_year, item)

    def _form_page(self, form: PriceItemForm, ad: AD, year: int, item: PriceItem | None) -> Any:
        page = self.render(
            "coopflow_admin/processes/affiliation_price_item.html",
            form=form,
            ad=ad,
            year=year,
            year_label=school_year_label(year),
            item=item,
            delete=DeleteForm(formdata=None) if item is not None else None,
        )
        return page, 422 if request.method == "POST" else 200

    def _save(self, form: PriceItemForm, ad: AD, year: int, item: PriceItem | None = None) -> bool:
        """Check the form like a CSV line, then write it: ``False`` (errors on the form's
        fields, nothing written) when refused."""
        principal = acting_staff()
        raw = {column: str(form[name].data or "") for name, column in FIELDS.items()}
        if item is not None:
            raw["code"] = item.code  # the code names the item in the CSV and in the cases
        values, problems = check_item(raw)
        errors = {name: problems[column] for name, column in FIELDS.items() if column in problems}
        rt = runtime()
        now = rt.engine.clock.now()
        if values is not None:
            with rt.db.write() as session:
                errors = _write(session, ad, year, values, item, by=principal.email, now=now)
        for name, message in errors.items():
            form[name].errors = [*form[name].errors, message[0].upper() + message[1:] + "."]
        if errors:
            return False
        flash(f"Tarif « {raw['libelle'].strip()} » enregistré.", "success")
        return True

    @expose("/<int:item_id>/supprimer", methods=("POST",))
    def delete(self, item_id: int) -> Any:
        principal = acting_staff()
        item = self._item(item_id)
        ad_id, year, label = item.ad_id, item.school_year, item.label
        if not DeleteForm().validate_on_submit():
            abort(400)
        with runtime().db.write() as session:
            lock_ads(session, [ad_id])
            stored = session.get(PriceItem, item_id)
            if stored is not None:
                session.delete(stored)
        flash(
            f"Tarif « {label} » supprimé par {principal.email} "
            "(les adhésions déjà envoyées gardent leur montant).",
            "success",
        )
        return redirect(url_for(".index", ad=ad_id, annee=year))

    @expose("/importer", methods=("POST",))
    def upload(self) -> Any:
        """Load a CSV file of price lists, for the ADs in the staff member's scope."""
        principal = acting_staff()
        form = UploadForm()
        problem = None
        if not form.validate_on_submit():
            problem = " ".join(form.file.errors) or "Formulaire expiré : rechargez la page."
        else:
            upload = form.file.data
            content = upload.stream.read(MAX_BYTES + 1)
            name = upload.filename or "tarifs.csv"
            problem = check_upload(name, upload.content_type or "", content)
        if problem:
            flash(problem, "error")
            return redirect(url_for(".index"))
        allowed = None if principal.is_national else frozenset({principal.ad_id or 0})
        rt = runtime()
        with rt.db.write() as session:
            report = import_price_lists(
                session,
                content,
                by=f"import {name} ({principal.email})",
                now=rt.engine.clock.now(),
                allowed=allowed,
            )
        return self._report(report, name)

    def _report(self, report: PriceImportReport, filename: str) -> Any:
        page = self.render(
            "coopflow_admin/processes/affiliation_prices_report.html",
            report=report,
            filename=filename,
        )
        return page, 422 if report.file_errors else 200


def _typed(cents: int | None) -> str:
    """How a price is typed back into the form: « 1,73 » (blank: none)."""
    return "" if cents is None else f"{cents // 100},{cents % 100:02d}"


def _write(
    session: Session,
    ad: AD,
    year: int,
    values: Any,
    item: PriceItem | None,
    *,
    by: str,
    now: Any,
) -> dict[str, str]:
    """Create or update the item under the AD's lock; the refusals by form field."""
    lock_ads(session, [ad.id])
    siblings = list(
        session.scalars(
            select(PriceItem).where(PriceItem.ad_id == ad.id, PriceItem.school_year == year)
        )
    )
    same = next((p for p in siblings if p.code == values.code), None)
    if item is None and same is not None:
        return {"code": f"le code « {values.code} » est déjà dans la liste de l'{ad.code}"}
    if item is not None and same is None:
        return {"code": "ce tarif a été supprimé entre-temps : rechargez la liste"}
    conflict = list_conflict(siblings, values.kind, values.code, year, ad.code)
    if conflict:
        return {"kind": conflict}
    if same is None:
        row = PriceRow(0, ad.id, ad.code, year, values)
        create_item(session, row, siblings, by=by, now=now)
    else:
        update_item(same, values, by=by, now=now)
    return {}
