"""What the review queue hands out: items, decisions, leases, filters, and the words they use."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

# decisions an annotator makes; "reopen" is recorded by the queue itself (a fixed mask went missing)
ACTIONS = ("accept", "fix", "choose", "reject", "skip", "reopen")
DONE_ACTIONS = ("accept", "fix", "choose", "reject")
STATE_OF_ACTION = {"accept": "accepted", "fix": "fixed", "choose": "chosen", "reject": "rejected",
                   "skip": "skipped", "reopen": "pending"}
STATES = ("pending", "skipped", "accepted", "fixed", "chosen", "rejected")
DONE_STATES = ("accepted", "fixed", "chosen", "rejected")

# why an item is rejected: a short list (key -> what the annotator reads) plus free text
REJECT_REASONS: dict[str, str] = {
    "not_a_lesion": "physiological or benign uptake, not a lesion",
    "not_a_finding": "sentence is not a current finding (reference value, template, prior exam)",
    "lesion_not_found": "cannot find the lesion the sentence describes",
    "numbers_wrong": "SUVmax or image number fits no lesion",
    "image_problem": "images unusable (artefact, misregistration, missing slices)",
    "other": "other (say why in the note)",
}

# outcomes, comparable to the published review of weak labels (right place / boundary edits)
OUTCOMES = ("unchanged", "boundary", "moved", "candidate", "drawn", "rejected")


@dataclass(frozen=True)
class Decision:
    """One row of an item's history; never changed once written."""

    id: int
    item_id: str
    action: str
    annotator: str
    at: float  # seconds since the epoch (UTC)
    outcome: str = ""
    candidate: int | None = None  # 0-based candidate index for "choose"
    mask_path: str | None = None  # relative to the dataset folder, for "fix"
    mask_sha256: str | None = None
    mask_voxels: int | None = None
    dice: float | None = None  # fix vs weak mask
    reason: str = ""
    note: str = ""

    @property
    def state(self) -> str:
        return STATE_OF_ACTION[self.action]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Decision:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ReviewItem:
    """One imported dataset item with its current review state."""

    item_id: str
    case: str
    index: int
    position: int
    sentence: str
    finding: dict
    weak_status: str  # the weak-label status: matched, ambiguous, no_match, ...
    label: int | None  # value in labelsTr/{case}.nii.gz
    tracer: str
    candidates: list[dict]
    n_candidates: int
    flags: list[str]  # from the weak-label pipeline
    review_flags: list[str]  # from the review: mask_missing, mask_corrupt, weak_label_changed, ...
    reason: str
    decision: Decision | None = None  # the latest one

    @property
    def state(self) -> str:
        return self.decision.state if self.decision else "pending"

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    @property
    def ambiguous(self) -> bool:
        return self.n_candidates > 0

    @property
    def all_flags(self) -> list[str]:
        return [*self.flags, *self.review_flags]

    @classmethod
    def from_row(cls, row: sqlite3.Row, decision: Decision | None) -> ReviewItem:
        return cls(
            item_id=row["item_id"], case=row["case_id"], index=row["idx"], position=row["position"],
            sentence=row["sentence"], finding=json.loads(row["finding"]), weak_status=row["weak_status"],
            label=row["label"], tracer=row["tracer"], candidates=json.loads(row["candidates"]),
            n_candidates=row["n_candidates"], flags=json.loads(row["flags"]),
            review_flags=json.loads(row["review_flags"]), reason=row["reason"], decision=decision,
        )


@dataclass(frozen=True)
class Lease:
    """Proof that ``annotator`` may decide ``item_id`` until ``expires`` (epoch seconds)."""

    item_id: str
    annotator: str
    token: str
    expires: float


@dataclass(frozen=True)
class ItemFilter:
    """Which items to hand out or list; empty fields match everything."""

    status: str = ""  # weak-label status
    flag: str = ""  # a flag, matching "flag" and "flag:detail"
    tracer: str = ""
    state: str = ""  # review state (listing only; claims always take pending items)
    case: str = ""

    def sql(self, alias: str = "i") -> tuple[str, dict]:
        """WHERE fragment (joined with AND, '1' when empty) and its parameters."""
        parts, params = [], {}
        if self.status:
            parts.append(f"{alias}.weak_status = :f_status")
            params["f_status"] = self.status
        if self.tracer:
            parts.append(f"{alias}.tracer = :f_tracer")
            params["f_tracer"] = self.tracer
        if self.case:
            parts.append(f"{alias}.case_id = :f_case")
            params["f_case"] = self.case
        if self.flag:
            parts.append(
                f"(EXISTS (SELECT 1 FROM json_each({alias}.flags) j WHERE j.value = :f_flag"
                f" OR substr(j.value, 1, length(:f_flag) + 1) = :f_flag || ':')"
                f" OR EXISTS (SELECT 1 FROM json_each({alias}.review_flags) j WHERE j.value = :f_flag))"
            )
            params["f_flag"] = self.flag
        return (" AND ".join(parts) or "1"), params


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    not_reviewable: int = 0  # dataset items left out (no mask and no candidates)
    flagged: list[str] = field(default_factory=list)  # item ids flagged during import

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged
