"""Review statistics in the terms of the published weak-label review.

The published review found weak labels in the right place for 98 % of test items (246/251), with 7.5 %
needing boundary edits. Here: of the reviewed items that had a weak mask, how many were accepted unchanged,
fixed at the boundary (the fix overlaps the weak mask), moved to another lesion (the fix does not overlap
it) or rejected; "right place" = unchanged + boundary. Ambiguous items (no weak mask) are counted apart:
a candidate chosen, a mask drawn, or rejected. Everything is broken down by tracer and by flag.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from .records import REJECT_REASONS, ReviewItem

if TYPE_CHECKING:
    from .queue import ReviewQueue

WEAK_OUTCOMES = ("unchanged", "boundary", "moved", "rejected")
NO_WEAK_OUTCOMES = ("candidate", "drawn", "rejected")
NO_FLAG = "(none)"


def _group(items: list[ReviewItem]) -> dict:
    """Counts and rates for one group of items."""
    done = [i for i in items if i.done]
    weak = Counter(i.decision.outcome for i in done if i.label is not None)
    other = Counter(i.decision.outcome for i in done if i.label is None)
    n_weak = sum(weak[o] for o in WEAK_OUTCOMES)
    out = {
        "items": len(items),
        "reviewed": len(done),
        "pending": len(items) - len(done),
        "with_weak_mask": {o: weak[o] for o in WEAK_OUTCOMES},
        "without_weak_mask": {o: other[o] for o in NO_WEAK_OUTCOMES},
    }
    if n_weak:
        out["rates"] = {
            "right_place": round((weak["unchanged"] + weak["boundary"]) / n_weak, 4),
            "accepted_unchanged": round(weak["unchanged"] / n_weak, 4),
            "boundary_edit": round(weak["boundary"] / n_weak, 4),
            "moved": round(weak["moved"] / n_weak, 4),
            "rejected": round(weak["rejected"] / n_weak, 4),
        }
    return out


def review_stats(queue: ReviewQueue) -> dict:
    """All numbers of the review so far (a plain dict, JSON-ready)."""
    items = queue.items()
    by_tracer: dict[str, list[ReviewItem]] = defaultdict(list)
    by_flag: dict[str, list[ReviewItem]] = defaultdict(list)
    for item in items:
        by_tracer[item.tracer or "(unknown)"].append(item)
        flags = sorted({f.split(":", 1)[0] for f in item.all_flags}) or [NO_FLAG]
        for flag in flags:
            by_flag[flag].append(item)
    done = [i for i in items if i.done]
    dice = [i.decision.dice for i in done if i.decision.action == "fix" and i.decision.dice is not None]
    reasons = Counter(i.decision.reason for i in done if i.decision.action == "reject")
    return {
        **_group(items),
        "states": queue.counts(),
        "by_tracer": {k: _group(v) for k, v in sorted(by_tracer.items())},
        "by_flag": {k: _group(v) for k, v in sorted(by_flag.items())},
        "by_annotator": dict(sorted(Counter(i.decision.annotator for i in done).items())),
        "reject_reasons": {r: reasons[r] for r in REJECT_REASONS if reasons[r]},
        "fix_dice_median": round(statistics.median(dice), 4) if dice else None,
    }


def _pct(rates: dict | None, key: str) -> str:
    return f"{100 * rates[key]:5.1f} %" if rates else "    –  "


def format_stats(stats: dict) -> str:
    """A plain-text table for the terminal."""
    s = stats["states"]
    lines = [
        f"items {stats['items']}: done {s['done']} (accepted {s['accepted']}, fixed {s['fixed']}, chosen "
        f"{s['chosen']}, rejected {s['rejected']}), pending {s['pending']}, skipped {s['skipped']}, "
        f"in progress {s['leased']}",
        "",
        f"{'group':<24}{'reviewed':>9}{'unchanged':>10}{'boundary':>9}{'moved':>7}{'rejected':>9}"
        f"{'right place':>13}{'edited':>9}",
    ]

    def row(name: str, group: dict) -> str:
        w, rates = group["with_weak_mask"], group.get("rates")
        return (f"{name[:23]:<24}{group['reviewed']:>9}{w['unchanged']:>10}{w['boundary']:>9}{w['moved']:>7}"
                f"{w['rejected']:>9}{_pct(rates, 'right_place'):>13}{_pct(rates, 'boundary_edit'):>9}")

    lines.append(row("all", stats))
    for name, group in stats["by_tracer"].items():
        lines.append(row(f"tracer {name}", group))
    for name, group in stats["by_flag"].items():
        lines.append(row(f"flag {name}", group))
    nw = stats["without_weak_mask"]
    lines += ["", f"ambiguous / unmatched items: candidate chosen {nw['candidate']}, drawn {nw['drawn']}, "
                  f"rejected {nw['rejected']}"]
    if stats["reject_reasons"]:
        lines.append("reject reasons: " + ", ".join(f"{k} {v}" for k, v in stats["reject_reasons"].items()))
    if stats["by_annotator"]:
        lines.append("by annotator: " + ", ".join(f"{k} {v}" for k, v in stats["by_annotator"].items()))
    if stats["fix_dice_median"] is not None:
        lines.append(f"median Dice of fixes vs weak masks: {stats['fix_dice_median']:.3f}")
    return "\n".join(lines)
