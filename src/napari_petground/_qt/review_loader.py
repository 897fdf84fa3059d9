"""Loading what the review dock shows, off the GUI thread: a case's images once, then each item's masks.

Items of one exam share its images, so cases are cached (the last few). While the annotator looks at an
item, the dock asks for the next one to be prefetched; pressing ``n`` then finds it in memory. Only files
are read here (never the review database, whose connection belongs to the GUI thread).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset.layout import Dataset, read_nifti
from ..errors import PetGroundError
from ..review.masks import MaskProblem, read_mask
from ..review.records import ReviewItem
from ..study.numbering import ImageNumbering
from ..study.volume import Volume

CACHED_CASES = 3


@dataclass
class CaseData:
    case: str
    ct: Volume
    pet: Volume
    labels: np.ndarray | None  # weak label map (None when its file is missing)
    numbering: ImageNumbering | None = None  # the exam's image numbers (dataset numbering/), head-first if None


@dataclass
class ItemData:
    """Everything the dock needs to show one item."""

    item: ReviewItem
    case: CaseData
    weak: np.ndarray | None  # the weak mask
    candidates: np.ndarray | None  # value j+1 = candidate j
    current: np.ndarray | None  # the mask after review so far (fix, chosen candidate) or the weak one
    problems: list[str]  # what could not be loaded, shown to the annotator as flags


class ReviewLoader:
    """Reads cases and item masks of one dataset, with a background prefetch."""

    def __init__(self, root: str | Path) -> None:
        self.dataset = Dataset(root)
        self.root = self.dataset.root
        self._cases: OrderedDict[str, CaseData] = OrderedDict()
        self._pending: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-prefetch")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- cases ----------------------------------------------------------------------------------------------
    def _read_case(self, case: str) -> CaseData:
        ct, pet = self.dataset.load_images(case)
        labels = None
        if self.dataset.label_path(case).is_file():
            try:
                labels = self.dataset.load_labels(case)
            except PetGroundError:
                labels = None
        return CaseData(case, ct, pet, labels, self.dataset.numbering(case, pet.shape[0]))

    def case(self, case: str) -> CaseData:
        """The case's data, from the cache, a running prefetch, or read now."""
        with self._lock:
            if case in self._cases:
                self._cases.move_to_end(case)
                return self._cases[case]
            future = self._pending.get(case)
        data = future.result() if future is not None else self._read_case(case)
        self._store(data)
        return data

    def _store(self, data: CaseData) -> None:
        with self._lock:
            self._cases[data.case] = data
            self._cases.move_to_end(data.case)
            while len(self._cases) > CACHED_CASES:
                self._cases.popitem(last=False)
            self._pending.pop(data.case, None)

    def prefetch(self, item: ReviewItem | None) -> None:
        """Start reading ``item``'s case in the background (no-op when cached or already on its way)."""
        if item is None:
            return
        with self._lock:
            if item.case in self._cases or item.case in self._pending:
                return
            future = self._pool.submit(self._read_case, item.case)
            self._pending[item.case] = future

        def done(f: Future) -> None:
            if f.exception() is None and not f.cancelled():
                self._store(f.result())
            else:
                with self._lock:
                    self._pending.pop(item.case, None)

        future.add_done_callback(done)

    def cached(self, case: str) -> bool:
        with self._lock:
            return case in self._cases

    # -- items ----------------------------------------------------------------------------------------------
    def item(self, item: ReviewItem) -> ItemData:
        """The item's masks on top of its case (raises PetGroundError when the images cannot be read)."""
        case = self.case(item.case)
        problems: list[str] = []
        weak = None
        if item.label is not None:
            if case.labels is None:
                problems.append("weak_mask_missing")
            else:
                weak = case.labels == item.label
        candidates = None
        if item.n_candidates:
            try:
                candidates = read_nifti(self.dataset.candidates_path(item.case, item.index)).data
            except PetGroundError:
                problems.append("candidates_missing")
        current = weak
        decision = item.decision
        if decision is not None and decision.action == "fix" and decision.mask_path:
            try:
                current = read_mask(self.root, decision.mask_path, decision.mask_sha256, case.pet.shape)
            except MaskProblem as problem:
                problems.append(problem.kind)
        elif decision is not None and decision.action == "choose" and candidates is not None:
            current = candidates == decision.candidate + 1
        return ItemData(item, case, weak, candidates, current, problems)
