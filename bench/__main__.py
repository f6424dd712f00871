"""``python -m bench`` (``make bench``): run the benchmarks, print one table, write JSON.

    python -m bench                 # every benchmark, full size
    python -m bench --only B1,B4    # some of them
    python -m bench --quick         # small sizes: checks the benchmarks run, figures mean little

Benchmarks need PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379); each works in a
database of its own (``coopflow_bench_*``, dropped afterwards) and Redis database 14.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from bench.report import Report
from bench.services import Unavailable, require_servers

BENCHMARKS = {
    "B1": "bench.b1_engine",
    "B2": "bench.b2_wave",
    "B3": "bench.b3_backoffice",
    "B4": "bench.b4_transition",
    "B5": "bench.b5_webhooks",
    "B6": "bench.b6_documents",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="e.g. B1,B4")
    parser.add_argument("--seed", type=int, default=20260901)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args(argv)
    chosen = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"benchmark inconnu : {', '.join(unknown)} (connus : {', '.join(BENCHMARKS)})")
    logging.basicConfig(level=logging.WARNING)
    lock = _one_run_at_a_time()
    if lock is None:
        print(
            "make bench : un autre banc d'essai tourne déjà sur cette machine "
            "(mêmes bases coopflow_bench_* et même base Redis : les chiffres seraient faux).",
            file=sys.stderr,
        )
        return 1
    try:
        require_servers()
    except Unavailable as exc:
        print(f"make bench : {exc}", file=sys.stderr)
        return 1
    report = Report(seed=args.seed, context={"quick": args.quick, "benchmarks": chosen})
    for name in chosen:
        print(f"{name} …", flush=True)
        started = time.monotonic()
        importlib.import_module(BENCHMARKS[name]).run(report, quick=args.quick)
        print(f"{name} : {time.monotonic() - started:.0f} s", flush=True)
    print()
    print(report.table())
    print(f"\nRésultats : {report.write()}")
    return 0


def _one_run_at_a_time() -> TextIO | None:
    """An exclusive lock held until this process ends: two runs would share their
    databases and Redis queue (and the machine's two cores)."""
    path = Path(tempfile.gettempdir()) / "coopflow-bench.lock"
    handle = path.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


if __name__ == "__main__":
    sys.exit(main())
