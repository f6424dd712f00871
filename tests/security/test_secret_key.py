"""The key that signs sessions and links: one for every machine. Without
``COOPFLOW_SECRET_KEY`` only the embedded default starts (one process, one machine), with
a key of its own kept in a file made at once with mode 0600; elsewhere coopflow refuses
to start, and refuses a key shorter than 32 bytes."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from coopflow.config import (
    SECRET_KEY_MIN_BYTES,
    ConfigurationError,
    instance_secret_key,
    load_settings,
)

POSTGRES = "postgresql+psycopg://coopflow@db/coopflow"
REDIS = "redis://broker:6379/0"


@pytest.mark.parametrize(
    "environ",
    [
        {"COOPFLOW_DATABASE_URL": POSTGRES},
        {"COOPFLOW_DATABASE_URL": POSTGRES, "COOPFLOW_BROKER_URL": REDIS},
        {"COOPFLOW_DATABASE_URL": "sqlite:///shared.sqlite3", "COOPFLOW_BROKER_URL": REDIS},
    ],
    ids=["postgresql", "distributed", "sqlite-with-workers"],
)
def test_outside_the_embedded_default_a_long_enough_key_is_required(environ):
    with pytest.raises(ConfigurationError, match="COOPFLOW_SECRET_KEY n'est pas définie"):
        load_settings(environ, dotenv=False)
    short = "x" * (SECRET_KEY_MIN_BYTES - 1)
    with pytest.raises(ConfigurationError, match="trop courte"):
        load_settings({**environ, "COOPFLOW_SECRET_KEY": short}, dotenv=False)
    enough = "é" * (SECRET_KEY_MIN_BYTES // 2)  # counted in bytes: 2 each
    assert (
        load_settings({**environ, "COOPFLOW_SECRET_KEY": enough}, dotenv=False).secret_key == enough
    )


def test_the_embedded_default_starts_with_its_own_key(monkeypatch, tmp_path):
    monkeypatch.setattr("coopflow.config.INSTANCE_DIR", tmp_path / "instance")
    first = load_settings({}, dotenv=False).secret_key
    assert len(first.encode()) >= SECRET_KEY_MIN_BYTES
    assert load_settings({}, dotenv=False).secret_key == first  # kept across restarts
    # A short key given by hand is the developer's choice on their one machine.
    assert load_settings({"COOPFLOW_SECRET_KEY": "dev"}, dotenv=False).secret_key == "dev"


def test_the_key_file_is_never_readable_by_others_even_with_an_open_umask(tmp_path):
    previous = os.umask(0)
    try:
        key = instance_secret_key(tmp_path / "instance")
    finally:
        os.umask(previous)
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # nothing left over


def test_processes_starting_together_share_one_key(tmp_path: Path):
    directory = tmp_path / "instance"
    keys: list[str] = []
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        keys.append(instance_secret_key(directory))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert (directory / "secret_key").read_text() == keys[0]
    assert sorted(p.name for p in directory.iterdir()) == ["secret_key"]


def test_an_empty_key_file_is_replaced(tmp_path: Path):
    directory = tmp_path / "instance"
    directory.mkdir()
    (directory / "secret_key").write_text("")
    key = instance_secret_key(directory)
    assert len(key) >= SECRET_KEY_MIN_BYTES and (directory / "secret_key").read_text() == key
