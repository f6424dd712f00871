"""Oversized and mislabelled uploads are refused in French, and nothing is written."""

from __future__ import annotations

from io import BytesIO

import pytest

from tests.security.conftest import database_rows, token_of
from tests.web.conftest import PNG, settle, text

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

HEADER = b"numero_affiliation;nom;ecole;email_ecole;rue;code_postal;ville\n"


def _import(world, ad_id: int, content: bytes, filename: str, content_type: str):  # type: ignore[no-untyped-def]
    staff = world.clients["staff"]
    return staff.post(
        "/admin/importer/",
        data={
            "csrf_token": token_of(staff, "/admin/importer/"),
            "ad_id": str(ad_id),
            "file": (BytesIO(content), filename, content_type),
        },
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("content", "filename", "content_type", "message"),
    [
        (HEADER + b"x" * (5 * 1024 * 1024), "gros.csv", "text/csv", "dépasse 5 Mo"),
        (b"PK\x03\x04" + bytes(range(256)) * 40, "classeur.csv", "text/csv", "pas un CSV"),
        (b"\x00\x01\x02binaire" * 100, "binaire.csv", "text/csv", "pas un CSV"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image.csv", "image/png", "pas un CSV"),
    ],
)
def test_csv_imports_refuse_oversized_and_binary_files(
    runtime, world, ad, content, filename, content_type, message
):
    before = database_rows(runtime)
    refused = _import(world, ad.id, content, filename, content_type)
    assert refused.status_code == 422 and message in text(refused)
    settle(runtime)
    assert database_rows(runtime) == before


def test_a_request_above_the_server_limit_is_refused_in_french(runtime, world, ad):
    before = database_rows(runtime)
    refused = _import(world, ad.id, HEADER + b"x" * (7 * 1024 * 1024), "x.csv", "text/csv")
    assert refused.status_code == 413 and "trop volumineux" in text(refused)
    assert database_rows(runtime) == before


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"Ceci est du texte, pas une image.\n" * 20, "logo.png", "pas une image PNG ou JPEG"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "logo.png",
            "pas une image PNG ou JPEG",
        ),
        (PNG + b"\x00" * (1024 * 1024), "logo.png", "trop lourd"),
    ],
)
def test_logos_refuse_text_and_oversized_files(runtime, world, content, filename, message):
    mandataire = world.clients["mandataire"]
    before = database_rows(runtime)
    refused = mandataire.post(
        "/mon-espace/verification/coordonnees",
        data={
            "csrf_token": token_of(mandataire, "/mon-espace/verification"),
            "street": "1 rue de la Paix",
            "postal_code": "06000",
            "city": "Nice",
            "phone": "04 93 00 00 00",
            "logo": (BytesIO(content), filename, "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and message in text(refused)
    settle(runtime)
    assert database_rows(runtime) == before
