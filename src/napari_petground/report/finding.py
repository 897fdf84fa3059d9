"""A finding: one current lesion described by one report sentence, with the numbers it states."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Span:
    """Character range [start, end) of a value in the sentence, for highlighting."""

    start: int
    end: int


@dataclass
class Finding:
    sentence: str
    suvmax: float | None = None  # the current SUVmax stated for this lesion
    prior_suvmax: float | None = None  # a "previously" value, never used for matching
    slice: int | None = None  # axial image / slice number (DICOM InstanceNumber)
    series: int | None = None
    laterality: str = ""  # "left", "right", "bilateral" or ""
    site: str = ""  # key of report.lexicon.SITES, or ""
    tracer: str = ""  # tracer named in the sentence or report header, or ""
    spans: dict[str, Span] = field(default_factory=dict)  # "suvmax", "prior_suvmax", "slice", "series", "site", "laterality"
    sentence_start: int = 0  # offset of the sentence in the report it came from
    # numbers the sentence states but the parser did not read (not a plausible value, see report.parse):
    # value name ("suvmax", "slice", "series", "prior_suvmax") -> the number as written; that value is None
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def has_numbers(self) -> bool:
        """Both numbers the weak-label pipeline needs are present."""
        return self.suvmax is not None and self.slice is not None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["spans"] = {k: [v.start, v.end] for k, v in self.spans.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        data = dict(data)
        data["spans"] = {k: Span(*v) for k, v in data.get("spans", {}).items()}
        return cls(**data)
