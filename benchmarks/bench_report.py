"""Report parsing: accuracy on the labelled sentence set and throughput on one core.

Run: python benchmarks/bench_report.py
Prints, per kind of sentence (hand-written, held-out hand-written, templated), the share whose findings have
all (SUVmax, image) pairs right, side/site/prior accuracy on those, then sentences per second for
``findings_in_sentence`` and ``extract_findings`` on a 1 MB report.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

from napari_petground.report.parse import extract_findings, findings_in_sentence
from napari_petground.report.sentences import split_sentences

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "report_sentences.jsonl"


def accuracy() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])
    failures = []
    for row in rows:
        found = extract_findings(row["sentence"])
        got = [(f.suvmax, f.slice) for f in found]
        expected = [(e["suvmax"], e["slice"]) for e in row["findings"]]
        s = stats[row["kind"]]
        s[0] += 1
        if got == expected:
            s[1] += 1
            for f, e in zip(found, row["findings"], strict=True):
                s[2] += 1
                s[3] += f.laterality == e["laterality"]
                s[4] += f.site == e["site"]
                s[5] += f.prior_suvmax == e["prior_suvmax"]
        else:
            failures.append((row["sentence"], got, expected))
    total = [sum(v[i] for v in stats.values()) for i in range(6)]
    print(f"{'kind':10s} {'sentences':>9s} {'both values':>12s} {'side':>6s} {'site':>6s} {'prior':>6s}")
    for kind, s in [*sorted(stats.items()), ("all", total)]:
        n = max(s[2], 1)
        print(f"{kind:10s} {s[0]:9d} {s[1] / s[0]:11.1%} {s[3] / n:6.1%} {s[4] / n:6.1%} {s[5] / n:6.1%}")
    for sentence, got, expected in failures:
        print(f"  wrong: {sentence!r}\n         got {got}, expected {expected}")


def throughput() -> None:
    rows = [json.loads(line)["sentence"] for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    sentences = rows * 40
    t0 = time.perf_counter()
    n_findings = sum(len(findings_in_sentence(s)) for s in sentences)
    dt = time.perf_counter() - t0
    print(f"findings_in_sentence: {len(sentences) / dt:,.0f} sentences/s ({n_findings} findings)")
    report = "FINDINGS:\n" + "\n".join(f"- {s}" for s in rows)
    big = (report + "\nÜbersicht: keine weiteren Befunde – ≥ 2 cm.\n") * (1_000_000 // len(report) + 1)
    t0 = time.perf_counter()
    n_sentences = len(split_sentences(big))
    t_split = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = extract_findings(big)
    dt = time.perf_counter() - t0
    print(f"1 MB report ({len(big):,} chars, {n_sentences:,} sentences): split {t_split:.2f} s, "
          f"extract_findings {dt:.2f} s = {n_sentences / dt:,.0f} sentences/s, {len(found):,} findings")


if __name__ == "__main__":
    accuracy()
    throughput()
