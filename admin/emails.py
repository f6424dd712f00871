"""« Emails »: every email coopflow stored or sent, within the staff member's scope,
exportable (CSV, XLSX) as filtered or searched.

Staff never read a working personal link here: the stored bodies hold placeholders
(``workflows.links``) shown masked, and a link of an email stored before that is cut
out. In the sandbox (no mail server: this page is the mailbox of the embedded mode)
invitation links are shown, never a password reset link.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, url_for
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Query

from admin.access import ReadOnlyModelView, staff
from admin.export import ModelExport
from admin.french import Equals
from web.runtime import runtime
from workflows.formatting import datetime_fr
from workflows.links import MASKED, masked
from workflows.models import Email, EmailStatus
from workflows.scope import email_condition
from workflows.search import contains_words, searched

#: A signed link (``payload.signature``) of an email stored before placeholders existed.
_STORED_LINK = re.compile(r"(/(?:invitation|mot-de-passe-perdu)/)[\w-]+\.[\w-]+")

#: The links shown in the sandbox: an invitation's (the demo's way in), never a reset's.
SANDBOX_SHOWN = ("invitation",)

STATUSES = {
    EmailStatus.SENDING.value: "envoi en cours",
    EmailStatus.STORED.value: "conservé (non envoyé)",
    EmailStatus.SENT.value: "envoyé",
    EmailStatus.REFUSED.value: "refusé",
    EmailStatus.DELIVERED.value: "remis au destinataire",
    EmailStatus.BOUNCED.value: "rejeté après envoi",
}
KINDS = {
    "invitation": "invitation",
    "reminder": "rappel",
    "password_reset": "mot de passe perdu",
    "notification": "démarche à faire",
}


def _subject_link(view: Any, context: Any, model: Email, name: str) -> Markup:
    url = url_for(".email_page", email_id=model.id)
    return Markup('<a href="{}">{}</a>').format(url, model.subject)


class EmailView(ModelExport, ReadOnlyModelView, ModelView):
    column_list = ("created_at", "to_address", "subject", "kind", "status")
    column_export_list = (
        "created_at",
        "to_address",
        "subject",
        "kind",
        "status",
        "sent_at",
        "error",
        "case_id",
    )
    export_basename = "emails"
    column_labels = {
        "created_at": "Date",
        "to_address": "Destinataire",
        "subject": "Objet",
        "kind": "Type",
        "status": "Statut",
        "sent_at": "Envoyé le",
        "error": "Erreur",
        "case_id": "N° de dossier",
    }
    column_sortable_list = ("created_at", "to_address", "kind", "status")
    column_default_sort = [("created_at", True), ("id", True)]
    column_searchable_list = ("to_address", "subject")
    column_filters = [
        Equals(Email.kind, "Type", options=list(KINDS.items())),
        Equals(Email.status, "Statut", options=list(STATUSES.items())),
    ]
    column_formatters = {
        "created_at": lambda v, c, m, n: datetime_fr(m.created_at),
        "subject": _subject_link,
        "kind": lambda v, c, m, n: KINDS.get(m.kind, m.kind),
        "status": lambda v, c, m, n: STATUSES.get(m.status, m.status),
    }
    #: Plain values in files: the subject without its link, dates as dates.
    column_formatters_export = {
        "kind": lambda v, c, m, n: KINDS.get(m.kind, m.kind),
        "status": lambda v, c, m, n: STATUSES.get(m.status, m.status),
    }

    def get_query(self) -> Query[Any]:
        return super().get_query().filter(email_condition(staff()))

    def _apply_search(
        self, query: Any, count_query: Any, joins: Any, count_joins: Any, search: str
    ) -> Any:
        # Every word in the address or the subject, case and accents aside (« exupery »
        # finds « Coopérative Saint-Exupéry »): not indexed, as Flask-Admin's own was not.
        condition = contains_words(searched(Email.to_address, Email.subject), search)
        query = query.filter(condition)
        if count_query is not None:
            count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def get_count_query(self) -> Query[Any]:
        return super().get_count_query().filter(email_condition(staff()))

    @expose("/<int:email_id>")
    def email_page(self, email_id: int) -> Any:
        email = self.session.scalars(
            select(Email).where(Email.id == email_id, email_condition(staff()))
        ).one_or_none()
        if email is None:
            abort(404)
        rt = runtime()
        sandbox = rt.settings.smtp_url is None
        bodies = [
            _STORED_LINK.sub(rf"\g<1>{MASKED}", body) for body in (email.text_body, email.html_body)
        ]
        if sandbox:
            bodies = rt.links.reveal(self.session, bodies, purposes=SANDBOX_SHOWN)
        text_body, html_body = (masked(body) for body in bodies)
        return self.render(
            "coopflow_admin/email.html",
            email=email,
            text_body=text_body,
            html_body=html_body,
            sandbox=sandbox,
            status=STATUSES.get(email.status, email.status),
            kind=KINDS.get(email.kind, email.kind),
        )
