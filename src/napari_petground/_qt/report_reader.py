"""Reading the grounding dock's text box into findings without stalling napari.

A short text is parsed at once. A long pasted report (more than SYNC_PARSE_CHARS characters) is parsed in a
napari thread worker, one at a time: a text changed meanwhile is read again when the worker is done, and
actions asked for meanwhile (Ground, Ground all) run once the text they were asked on has been read. A number
the parser refused as not a real value (``Finding.refused``) is named by :func:`refused_message`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from qtpy.QtCore import QObject, Signal

from ..errors import PetGroundError
from ..report.finding import Finding

log = logging.getLogger(__name__)

SYNC_PARSE_CHARS = 20_000  # a longer text is parsed off the GUI thread (about 15 ms of parsing and more)
Source = Callable[[], tuple[str, str]]  # () -> (text, tracer) as they are now


def parse_report(text: str, tracer: str) -> list[Finding]:
    """The findings of ``text``; [] for a blank text or one the parser refuses (logged)."""
    from ..report import extract_findings

    try:
        return extract_findings(text, tracer=tracer) if text.strip() else []
    except PetGroundError as exc:
        log.info("report not parsed: %s", exc)
        return []


class ReportReader(QObject):
    """The findings of the text ``source()`` gives, read at once or in a background worker."""

    reading = Signal()  # a background read started
    listed = Signal(object)  # list[Finding] of the current text, read in the background
    failed = Signal(object)  # the exception of a background read
    done = Signal()  # no background read is running any more

    def __init__(self, source: Source, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._read: tuple[tuple[str, str], list[Finding]] | None = None  # a long text read in the background
        self._worker = None
        self._after: list[Callable[[], object]] = []

    @property
    def busy(self) -> bool:
        """A long text is being read off the GUI thread."""
        return self._worker is not None

    def read(self) -> list[Finding] | None:
        """The findings of the text now; None while a long text is being read (``listed`` gives them)."""
        key = self._source()
        if len(key[0]) <= SYNC_PARSE_CHARS:
            self._read = None
            return parse_report(*key)
        if self._read is not None and self._read[0] == key:
            return self._read[1]
        self._start(key)
        return None

    def after(self, action: Callable[[], object]) -> None:
        """Run ``action`` once the running background read is done (replacing what was waiting)."""
        self._after = [action]

    def detach(self) -> None:
        """Nothing a running read emits reaches anyone any more (the dock is closing)."""
        worker, self._worker = self._worker, None
        self._after.clear()
        if worker is not None:
            for signal in (worker.returned, worker.errored, worker.finished):
                with contextlib.suppress(TypeError, RuntimeError):
                    signal.disconnect()

    def _start(self, key: tuple[str, str]) -> None:
        from napari.qt.threading import create_worker

        if self._worker is not None:
            return  # _on_finished reads the text again if it changed meanwhile
        self.reading.emit()
        worker = create_worker(parse_report, *key, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda findings, key=key: self._on_returned(key, findings))
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()

    def _on_returned(self, key: tuple[str, str], findings: list[Finding]) -> None:
        if key != self._source():
            return  # the text changed while it was read: read again when this worker finishes
        self._read = (key, findings)
        self.listed.emit(findings)

    def _on_errored(self, exc: BaseException) -> None:
        log.error("report not parsed", exc_info=exc)
        self._after.clear()
        self.failed.emit(exc)

    def _on_finished(self) -> None:
        self._worker = None
        key = self._source()
        long = len(key[0]) > SYNC_PARSE_CHARS
        if long and (self._read is None or self._read[0] != key):
            self._start(key)  # changed meanwhile
            return
        self.done.emit()
        actions, self._after = self._after, []
        for action in actions:
            action()


_VALUE_NAMES = {"suvmax": "SUVmax", "slice": "image number", "series": "series number",
                "prior_suvmax": "prior SUVmax"}


def refused_message(finding: Finding) -> str:
    """What the parser did not read in ``finding``'s sentence, and what to do."""
    sentence = finding.sentence if len(finding.sentence) < 80 else finding.sentence[:77] + "…"
    parts = ", ".join(f"{_VALUE_NAMES.get(name, name)} “{written[:30]}”" for name, written in finding.refused.items())
    are = "is not a plausible value" if len(finding.refused) == 1 else "are not plausible values"
    return (f"In “{sentence}” the {parts} {are} and not read: the finding is grounded without. Correct the "
            "number in the text to use it.")
