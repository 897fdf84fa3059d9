"""The cohort funnel: how many reports, sentences and numbered findings became usable weak labels.

Each finished case leaves ``funnel/{case}.json`` (its counts, written before its items file), so the funnel
of a dataset can be rebuilt at any time from the folder alone — also after a resumed run. The stages::

    exams -> failed (no usable images) | reports -> sentences -> findings -> numbered
    numbered = matched + ambiguous + no_match + rejected + error

``report_errors`` are reports that could not be read at all (empty, too long) and ``sentence_errors``
sentences the parser failed on; both are also items with status "error" in sentences.jsonl.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_bytes

STATUSES = ("matched", "ambiguous", "no_match", "rejected", "error")
CASE_KEYS = ("reports", "report_errors", "sentences", "sentence_errors", "sentences_with_numbers",
             "findings", "numbered", *STATUSES)
FUNNEL_DIR = "funnel"


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(CASE_KEYS, 0)


@dataclass
class FunnelRow:
    """Counts of one tracer (or of the whole cohort)."""

    tracer: str
    exams: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=empty_counts)

    def add_case(self, counts: dict[str, int]) -> None:
        self.exams += 1
        for key in CASE_KEYS:
            self.counts[key] += int(counts.get(key, 0))

    def add_failure(self) -> None:
        self.exams += 1
        self.failed += 1

    @property
    def consistent(self) -> bool:
        """The stages add up: every numbered finding ended in exactly one status."""
        c = self.counts
        return (
            self.exams == self.failed + c["reports"] + c["report_errors"]
            and c["numbered"] == sum(c[s] for s in STATUSES)
            and c["numbered"] <= c["findings"]
            and c["sentences_with_numbers"] <= c["sentences"]
        )

    def to_dict(self) -> dict:
        return {"tracer": self.tracer, "exams": self.exams, "failed": self.failed, **self.counts}


@dataclass
class Funnel:
    total: FunnelRow = field(default_factory=lambda: FunnelRow("all"))
    by_tracer: dict[str, FunnelRow] = field(default_factory=dict)

    def _row(self, tracer: str) -> FunnelRow:
        key = tracer or "unknown"
        return self.by_tracer.setdefault(key, FunnelRow(key))

    def add_case(self, tracer: str, counts: dict[str, int]) -> None:
        self.total.add_case(counts)
        self._row(tracer).add_case(counts)

    def add_failure(self, tracer: str) -> None:
        self.total.add_failure()
        self._row(tracer).add_failure()

    @property
    def consistent(self) -> bool:
        return self.total.consistent and all(r.consistent for r in self.by_tracer.values())

    def to_dict(self) -> dict:
        return {"total": self.total.to_dict(),
                "by_tracer": {k: v.to_dict() for k, v in sorted(self.by_tracer.items())}}


def write_case_counts(root: Path, case: str, tracer: str, counts: dict[str, int]) -> None:
    payload = json.dumps({"case": case, "tracer": tracer, "counts": counts}).encode("utf-8")
    atomic_write_bytes(Path(root) / FUNNEL_DIR / f"{case}.json", payload)


def dataset_funnel(root: str | Path) -> Funnel:
    """The funnel of every finished and failed case in a dataset folder."""
    root = Path(root)
    funnel = Funnel()
    done = {p.name[: -len(".jsonl")] for p in (root / "items").glob("*.jsonl")}
    for case in sorted(done):
        path = root / FUNNEL_DIR / f"{case}.json"
        if path.is_file():
            row = json.loads(path.read_text(encoding="utf-8"))
            funnel.add_case(row.get("tracer", ""), row.get("counts", {}))
        else:  # a case written by other tools: count its items by status
            funnel.add_case("", _counts_from_items(root / "items" / f"{case}.jsonl"))
    for path in sorted((root / "failures").glob("*.json")):
        if path.stem in done:
            continue
        try:
            tracer = json.loads(path.read_text(encoding="utf-8")).get("tracer", "")
        except (OSError, ValueError):
            tracer = ""
        funnel.add_failure(tracer)
    return funnel


def _counts_from_items(path: Path) -> dict[str, int]:
    counts = empty_counts()
    counts["reports"] = 1
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        status = json.loads(line).get("status", "")
        if status in STATUSES:
            counts[status] += 1
            counts["numbered"] += 1
            counts["findings"] += 1
    return counts


_COLUMNS = (("exams", "exams"), ("failed", "failed"), ("report_errors", "bad report"), ("reports", "reports"),
            ("sentences", "sentences"), ("sentences_with_numbers", "w/ numbers"), ("numbered", "findings#"),
            ("matched", "matched"), ("ambiguous", "ambig."), ("no_match", "no match"), ("rejected", "rejected"),
            ("error", "error"))
_STAGES = (("exams", "exams", 0), ("failed", "failed (images, SUV)", 1), ("report_errors", "unusable report", 1),
           ("reports", "reports", 0), ("sentences", "sentences", 0), ("sentence_errors", "unparsable", 1),
           ("sentences_with_numbers", "with numbers", 1), ("findings", "findings", 0),
           ("numbered", "with numbers", 1), ("matched", "matched", 2), ("ambiguous", "ambiguous", 2),
           ("no_match", "no match", 2), ("rejected", "rejected", 2), ("error", "error", 2))


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}" if whole else "-"


def format_funnel(funnel: Funnel) -> str:
    """The whole cohort's funnel, stage by stage, then one line per tracer (matched % of numbered findings)."""
    total = funnel.total.to_dict()
    lines = []
    for key, title, depth in _STAGES:
        share = f"  {_percent(total[key], total['numbered'])} %" if depth == 2 else ""
        lines.append(f"{'  ' * depth}{title:<{24 - 2 * depth}}{total[key]:>8}{share}")
    header = ["tracer"] + [title for _, title in _COLUMNS] + ["matched %"]
    table = [header]
    for name in sorted(funnel.by_tracer):
        values = funnel.by_tracer[name].to_dict()
        table.append([name] + [str(values[key]) for key, _ in _COLUMNS]
                     + [_percent(values["matched"], values["numbered"])])
    table.append(["all"] + [str(total[key]) for key, _ in _COLUMNS] + [_percent(total["matched"], total["numbered"])])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    rows = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            for r in table]
    rows.insert(1, "-" * len(rows[0]))
    return "\n".join(lines + ["", "by tracer (findings# = numbered findings):", *rows])
