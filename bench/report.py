"""One line per figure: what was measured, its value, its target, and the ratio to a
baseline where there is one; printed as a table and written as JSON."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


@dataclass
class Figure:
    bench: str
    name: str
    value: float
    unit: str
    #: ``("<=", 60)`` or ``(">=", 0.7)``: met when ``value`` compares so; ``None``: reported only.
    target: tuple[str, float] | None = None
    baseline: float | None = None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, bound = self.target
        return self.value <= bound if op == "<=" else self.value >= bound


@dataclass
class Report:
    seed: int
    started: float = field(default_factory=time.time)
    figures: list[Figure] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {figure.bench} {figure.name}: {_value(figure)}", flush=True)
        return figure

    def table(self) -> str:
        rows = [("bench", "figure", "value", "target", "ratio", "met")]
        for f in self.figures:
            target = f"{f.target[0]} {_number(f.target[1])} {f.unit}" if f.target else ""
            ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
            met = {True: "oui", False: "NON", None: ""}[f.met]
            rows.append((f.bench, f.name, _value(f), target, ratio, met))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def write(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.fromtimestamp(self.started, UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS / f"bench-{stamp}.json"
        body = {
            "started": datetime.fromtimestamp(self.started, UTC).isoformat(),
            "seed": self.seed,
            "machine": {"cpus": _cpus(), "python": platform.python_version()},
            "context": self.context,
            "figures": [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in self.figures],
        }
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        (RESULTS / "latest.json").write_text(path.read_text())
        return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if value >= 100 else f"{value:.3g}"


def _value(f: Figure) -> str:
    return f"{_number(f.value)} {f.unit}" + (f" ({f.notes})" if f.notes else "")
