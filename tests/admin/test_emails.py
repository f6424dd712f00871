"""« Emails »: the stored messages, their text shown plainly and their HTML sandboxed."""

from __future__ import annotations

from tests.admin.conftest import log_in, text
from workflows.models import Email, EmailStatus

LINK = "http://coopflow.test/invitation/abc.def"
HTML = f'<p>Bonjour,</p><a href="{LINK}">Choisir mon mot de passe</a><script>alert("x")</script>'


def _email(rt, case, to: str = "eloise.martin@ac-nice.fr") -> int:
    with rt.db.write() as session:
        row = Email(
            idempotency_key=f"test.{case.id}.{to}",
            kind="invitation",
            case_id=case.id,
            coop_id=case.coop_id,
            to_address=to,
            subject="Compte sur OCCE 06 : configurez",
            text_body=f"Bonjour,\n\nChoisissez votre mot de passe : {LINK}\n",
            html_body=HTML,
            message_id="<1@coopflow.occe.coop>",
            status=EmailStatus.SENT.value,
            created_at=case.created_at,
        )
        session.add(row)
        session.flush()
        return row.id


def test_the_email_page_shows_the_text_and_sandboxes_the_html(client, rt, staff06, make_case):
    case = make_case("created")
    email_id = _email(rt, case)
    log_in(client, staff06)

    listing = text(client.get("/admin/emails/"))
    assert "eloise.martin@ac-nice.fr" in listing and "envoyé" in listing
    assert f'href="/admin/emails/{email_id}"' in listing

    response = client.get(f"/admin/emails/{email_id}")
    raw = response.get_data(as_text=True)
    assert response.status_code == 200
    # A link stored before placeholders existed is never shown, even in the sandbox.
    assert (
        "Choisissez votre mot de passe : http://coopflow.test/invitation/[lien personnel masqué]"
        in text(response)
    )
    assert "abc.def" not in raw
    assert '<iframe class="email-html" sandbox srcdoc="&lt;p&gt;Bonjour' in raw
    assert "<script>" not in raw.split("<iframe", 1)[1].split("</iframe>", 1)[0]
    case_page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert f'href="/admin/emails/{email_id}"' in case_page


def test_emails_of_another_ad_are_out_of_reach(client, rt, staff06, ad50, make_case):
    theirs = make_case("created", of=ad50)
    email_id = _email(rt, theirs, to="jean.lefevre@ac-normandie.fr")
    log_in(client, staff06)
    assert "jean.lefevre" not in text(client.get("/admin/emails/"))
    assert client.get(f"/admin/emails/{email_id}").status_code == 404
