"""Progress of a long command on stderr, so a user waiting seconds sees what is being done.

As git does: shown when stderr is a terminal (one short line per stage with the time since the start, and a
tqdm bar for the stages that report fractions, such as the network's sliding windows); silent in a pipe or a
log unless asked for (``force``, the commands' ``--progress``), so an error stays the one line a script reads.
stdout is left alone for the command's result.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

# the grounder's stages (Grounder.iter_ground) in a user's words; stages not named here are not shown
GROUNDING_STAGES = {
    "text": "reading the sentence",
    "preprocessing": "preparing the image and encoding its windows",
    "inference": "running the network over the image",
    "post-processing": "choosing the lesion the sentence describes",
}


class StageProgress:
    """``stage(name)`` starts a step, ``update(name, fraction)`` follows one, ``close()`` ends the report."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None, force: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()
        self._stage: str | None = None
        self._bar = None
        isatty = getattr(self.stream, "isatty", None)
        self._terminal = bool(enabled and isatty is not None and isatty())
        self.enabled = enabled and (self._terminal or force)

    def stage(self, name: str) -> None:
        """A new step: its line is printed once."""
        if not self.enabled or name == self._stage:
            return
        self._close_bar()
        self._stage = name
        print(f"[{time.perf_counter() - self.started:5.1f} s] {name} ...", file=self.stream, flush=True)

    def update(self, name: str, fraction: float) -> None:
        """``fraction`` (0..1) of step ``name`` done; a bar on a terminal, the step's line elsewhere."""
        self.stage(name)
        if not self._terminal or (self._bar is None and not 0.0 < fraction < 1.0):
            return  # a bar only for a step that reports its way, not one that starts and ends at once
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=100, file=self.stream, leave=False, bar_format="  {bar} {percentage:3.0f}%")
        self._bar.n = round(100 * min(max(float(fraction), 0.0), 1.0))
        self._bar.refresh()

    def close(self, message: str = "done") -> None:
        self._close_bar()
        if self.enabled:
            print(f"[{time.perf_counter() - self.started:5.1f} s] {message}", file=self.stream, flush=True)
        self.enabled = False

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def follow_grounding(progress: StageProgress, steps) -> object:
    """Run a ``Grounder.iter_ground`` generator to its end, reporting its stages; returns its result."""
    while True:
        try:
            stage, value = next(steps)
        except StopIteration as stop:
            return stop.value
        label = GROUNDING_STAGES.get(stage)
        if label is not None and isinstance(value, int | float):
            progress.update(label, value)
