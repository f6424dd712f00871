"""B6's worker process when it drives the documents directly (``python -m
bench.b6_worker URL MODE PART PARTS BATCH``): the share ``PART`` of ``PARTS`` of the
affiliation cases, their commitments then their two attestations, stored through
``workers.documents`` as the steps would store them: ``batch`` (``store_documents`` for
the documents of ``BATCH`` cases at once, as a message of ``BATCH`` steps does) or
``single`` (``store_document`` one by one, each laid out whole by WeasyPrint: the
baseline). Prints its peak memory
(``VmHWM`` from ``/proc``) last."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.services import SECRET_KEY
from coopflow.config import Settings
from coopflow.runtime import build_runtime
from workers.documents import Draft, new_verification_code, store_document, store_documents
from workflows.engine.cross_process import school_year_label
from workflows.engine.engine import Engine
from workflows.models import Case
from workflows.processes.affiliation.fee import Fee
from workflows.processes.affiliation.form import form_of

#: The documents of a coop, in the order of the wave: at submission, then at validation.
WAVES = (("commitment",), ("attestation_adhesion", "attestation_assurance"))
TITLES = {
    "commitment": "Engagement du mandataire",
    "attestation_adhesion": "Attestation d'adhésion",
    "attestation_assurance": "Attestation d'assurance",
}


def draft(case_id: int, kind: str) -> Callable[[Session], Draft]:
    """What a step builds for ``kind`` of case ``case_id`` (the templates' contract)."""

    def build(session: Session) -> Draft:
        case = session.get(Case, case_id)
        assert case is not None
        coop = case.coop
        data = case.data or {}
        year = school_year_label(case.school_year or 2026)
        payment = dict(data["checks"]["payment"])
        payment["received_on"] = date.fromisoformat(payment["received_on"]).strftime("%d/%m/%Y")
        code = new_verification_code()
        context: dict[str, Any] = {
            "ad": coop.ad,
            "coop": coop,
            "school_year_label": year,
            "form": form_of(data),
            "fee": Fee.from_data(data["fee"]),
            "reference": data["reference"],
            "mandataire_name": data["mandataire_name"],
            "issued_on": "21/09/2026",
            "validated_on": "21/09/2026",
            "payment": payment,
            "verification_code": code,
            "verification_url": f"https://coopflow.bench/verification?code={code}",
        }
        return Draft(
            template=f"affiliation/{kind}",
            context=context,
            coop_id=coop.id,
            case_id=case.id,
            kind=kind,
            title=f"{TITLES[kind]} {year}",
            filename=f"{kind}-{year}-{coop.affiliation_number}.pdf",
            verification_code=code,
        )

    return build


def run(engine: Engine, case_ids: list[int], mode: str, batch: int) -> None:
    for kinds in WAVES:
        for start in range(0, len(case_ids), batch):
            wanted = [
                (f"b6:{case_id}:{kind}", draft(case_id, kind))
                for case_id in case_ids[start : start + batch]
                for kind in kinds
            ]
            if mode == "batch":
                store_documents(engine, wanted)
            else:
                for key, build in wanted:
                    store_document(engine, key=key, build=build, whole=True)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM absent de /proc/self/status")


def main(argv: list[str]) -> int:
    url, mode, part, parts, batch = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    runtime = build_runtime(Settings(database_url=url, secret_key=SECRET_KEY))
    try:
        with runtime.db.read() as session:
            ids = list(
                session.scalars(
                    select(Case.id)
                    .where(Case.process == "affiliation", Case.id % parts == part)
                    .order_by(Case.id)
                )
            )
        run(runtime.engine, ids, mode, batch)
    finally:
        runtime.stop()
    print(f"peak_rss_mb={peak_rss_mb():.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
