"""The ``coopflow`` command as an operator uses it, in a subprocess with its own SQLite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

COOPFLOW = str(Path(sys.executable).with_name("coopflow"))

CSV = (
    "numero_affiliation;nom_cooperative;ecole;email_ecole;prenom_mandataire;nom_mandataire;"
    "email_mandataire\n"
    "0060201A;Coop Matisse;École Matisse;ce.0060201a@ac-nice.fr;Inès;Garcia;"
    "ines.garcia@ac-nice.fr\n"
    "0060202B;Coop Chagall;École Chagall;ce.0060202b@ac-nice.fr;Paul;Blanc;paul.blanc@gmail.com\n"
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COOPFLOW_")}
    return {
        **clean,
        "COOPFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "COOPFLOW_SECRET_KEY": "cli-test-key",
        "COOPFLOW_SCHEDULER_INTERVAL": "0.5",
    }


def run(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [COOPFLOW, *args], env=env, capture_output=True, text=True, input=input, timeout=120
    )


def test_upgrade_demo_import_and_staff(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    first = run(env, "demo-data")
    assert first.returncode == 0, first.stderr
    assert "Données de démonstration chargées." in first.stdout
    assert "rien à faire" in run(env, "demo-data").stdout  # only into an empty database

    path = tmp_path / "coops.csv"
    path.write_text(CSV, encoding="utf-8")
    imported = run(env, "import-coops", str(path), "--ad", "AD06", "--invite")
    assert imported.returncode == 0, imported.stderr
    assert "Ligne 3" in imported.stderr and "ac-nice.fr" in imported.stderr
    assert "1 coopérative créée" in imported.stdout
    again = run(env, "import-coops", str(path), "--ad", "AD06")
    assert "1 inchangée" in again.stdout

    unknown = run(env, "import-coops", str(path), "--ad", "AD99")
    assert unknown.returncode != 0 and "AD inconnue : AD99" in unknown.stderr

    weak = run(
        env,
        "create-staff",
        "--email",
        "marc@occe.coop",
        "--name",
        "Marc Lenoir",
        "--role",
        "ad",
        "--ad",
        "AD06",
        "--password",
        "court",
    )
    assert weak.returncode != 0 and "au moins 12 caractères" in weak.stderr
    made = run(
        env,
        "create-staff",
        "--email",
        "marc@occe.coop",
        "--name",
        "Marc Lenoir",
        "--role",
        "ad",
        "--ad",
        "AD06",
        "--password",
        "Bureau*Nice2026",
    )
    assert made.returncode == 0 and "Compte créé : marc@occe.coop" in made.stdout
    treasurer = run(
        env,
        "create-staff",
        "--email",
        "denis@occe.coop",
        "--name",
        "Denis Olivier",
        "--ad",
        "AD06",
        "--officer",
        "treasurer",
        "--password",
        "Tresor*Nice2026",
    )
    assert treasurer.returncode == 0 and "Compte créé : denis@occe.coop" in treasurer.stdout
    national = run(
        env,
        "create-staff",
        "--email",
        "nadia@occe.coop",
        "--name",
        "Nadia Nationale",
        "--role",
        "national",
        "--officer",
        "president",
        "--password",
        "Federation*2026",
    )
    assert national.returncode != 0 and "hors d'une AD" in national.stderr


def test_serve_starts_everything_and_prints_the_urls(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [COOPFLOW, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer /healthz"
                time.sleep(0.2)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert f"http://127.0.0.1:{port}/connexion" in output
    assert "national@occe.coop" in output
    assert process.returncode == 0


def test_a_production_database_is_set_up_without_demo_data(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    path = tmp_path / "coops.csv"
    path.write_text(CSV, encoding="utf-8")
    assert "AD inconnue : AD06" in run(env, "import-coops", str(path), "--ad", "AD06").stderr

    ad = ["--code", "ad06", "--name", "OCCE 06 Alpes-Maritimes", "--email", "ad06@occe.coop"]
    bad = run(env, "create-ad", *ad, "--domain", "gmail.com")
    assert bad.returncode != 0 and "Domaine académique invalide : « gmail.com »" in bad.stderr
    assert "AD inconnue : AD06" in run(env, "import-coops", str(path), "--ad", "AD06").stderr

    made = run(env, "create-ad", *ad, "--domain", "ac-nice.fr")
    assert made.returncode == 0 and "AD créée : AD06" in made.stdout, made.stderr
    imported = run(env, "import-coops", str(path), "--ad", "AD06")
    assert "1 coopérative créée" in imported.stdout, imported.stderr

    # Run again with a second academy: the same AD is updated, not duplicated.
    again = run(env, "create-ad", *ad, "--domain", "ac-nice.fr", "--domain", "ac-corse.fr")
    assert "AD mise à jour : AD06" in again.stdout
    assert "1 inchangée" in run(env, "import-coops", str(path), "--ad", "AD06").stdout
