"""A CLI command beside a running ``coopflow serve`` (embedded: SQLite, in-process
broker), as a new user tries it: the steps the command writes are not published by it
(nobody consumes its broker) but due, and the server's scheduler publishes them within
a second or two, with the production defaults (5 s ticks, 300 s publish lease)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path

import pytest

from tests.smtp import SMTPServer, _free_port

COOPFLOW = str(Path(sys.executable).with_name("coopflow"))
COOPS = 45  # three broker messages of 20 steps
#: What the issue promises: the invitations reach the mail server within 10 s.
WITHIN_SECONDS = 10.0

HEADER = (
    "numero_affiliation;nom_cooperative;ecole;email_ecole;prenom_mandataire;nom_mandataire;"
    "email_mandataire\n"
)


def _addresses() -> list[str]:
    return [f"mandataire.{i:03d}@ac-nice.fr" for i in range(COOPS)]


def _csv() -> str:
    lines = [
        f"0063{i:03d}A;Coop {i};École {i};ce.0063{i:03d}a@ac-nice.fr;Inès;Garcia{i};{address}"
        for i, address in enumerate(_addresses())
    ]
    return HEADER + "\n".join(lines) + "\n"


@pytest.fixture
def env(tmp_path: Path, smtp_server: SMTPServer) -> dict[str, str]:
    """The embedded default against the test's SMTP server; every other setting is
    production's (no shortened ticks or leases)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COOPFLOW_")}
    return {
        **clean,
        "COOPFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'coopflow.sqlite3'}",
        "COOPFLOW_SECRET_KEY": "cli-beside-serve-key",
        "COOPFLOW_SMTP_URL": smtp_server.url,
        "PYTHONUNBUFFERED": "1",
    }


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [COOPFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"coopflow {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """``coopflow serve`` in a process group of its own, ready (``/readyz``); its log."""
    run(env, tmp_path, "db", "upgrade")
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [COOPFLOW, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _ready(port):
            assert process.poll() is None, f"serve stopped: {log.read_text()}"
            assert time.monotonic() < deadline, f"serve not ready: {log.read_text()}"
            time.sleep(0.2)
        yield log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return answer.status == 200 and json.load(answer)["status"] == "ok"
    except (OSError, urllib.error.HTTPError, ValueError):
        return False


def test_invitations_of_a_cli_import_beside_serve_arrive_within_seconds(
    serve: Path, env: dict[str, str], tmp_path: Path, smtp_server: SMTPServer
) -> None:
    ad = ["--code", "AD06", "--name", "OCCE 06 Alpes-Maritimes", "--email", "ad06@occe.coop"]
    assert (
        "AD créée : AD06" in run(env, tmp_path, "create-ad", *ad, "--domain", "ac-nice.fr").stdout
    )
    path = tmp_path / "coops.csv"
    path.write_text(_csv(), encoding="utf-8")

    imported = run(env, tmp_path, "import-coops", str(path), "--ad", "AD06", "--invite")
    finished = time.monotonic()
    assert "Ligne" not in imported.stderr, imported.stderr
    expected = Counter(_addresses())
    while (received := _recipients(smtp_server)) != expected:
        waited = time.monotonic() - finished
        assert waited < WITHIN_SECONDS, (
            f"{sum(received.values())} of {COOPS} invitations after {waited:.1f} s\n"
            f"{serve.read_text()[-4000:]}"
        )
        time.sleep(0.05)
    arrived = time.monotonic() - finished
    print(f"\n{COOPS} invitations at the SMTP server {arrived:.2f} s after the import ended")

    time.sleep(1.5)  # more looks of the server's scheduler: nothing goes twice
    assert _recipients(smtp_server) == expected


def _recipients(smtp_server: SMTPServer) -> Counter[str]:
    with smtp_server.lock:
        return Counter(parseaddr(str(message["To"]))[1] for message in smtp_server.messages)
