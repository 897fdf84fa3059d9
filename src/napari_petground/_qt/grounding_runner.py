"""Runs grounding requests off the GUI thread, one at a time, in a napari generator worker.

Behaviour while a run is under way (documented in docs/user-guide.md): a new request **joins a queue** and
runs after the ones before it, in order; the same finding already waiting or running is not queued twice.
Each request carries the Finding the reader picked and the study's session, and the model grounds exactly
that finding (a sentence stating two lesions is two requests, each choosing by its own numbers).
**Cancel** stops the running request at its next stage boundary (the worker aborts at its next ``yield``) and
empties the queue. The grounding model is loaded once, inside the worker, and kept for later requests until
the checkpoint or device changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject, Signal

from ..model.depth import DEPTH
from ..model.imports import IMPORT_LOCK, warm_imports
from ..report.finding import Finding
from ..session import StudySession, finding_key

if TYPE_CHECKING:
    from ..model.grounder import Grounder, Grounding

log = logging.getLogger(__name__)

LOADING = "loading model"
# stages in the order a run goes through them; the bar fills by stage, then by the fraction inside it
STAGES: tuple[str, ...] = (LOADING, "text", "preprocessing", "inference", "post-processing")

GrounderLoader = Callable[[str | None, str], "Grounder"]
_ids = count(1)


def _log_missing_imports() -> None:
    missing = warm_imports()
    if missing:
        log.info("not imported: %s", missing)


def load_grounder(checkpoint: str | None, device: str) -> Grounder:
    """The package's grounding model (None = the shipped demo checkpoint)."""
    with IMPORT_LOCK:
        from ..model.grounder import Grounder

        return Grounder.from_checkpoint(checkpoint, device=device)


@dataclass(eq=False)
class GroundingRequest:
    """One finding to ground in one study's session, with the checkpoint and device chosen when it was asked."""

    session: StudySession
    finding: Finding
    checkpoint: str | None = None
    device: str = "auto"
    row: int | None = None  # row of the dock's findings list when it was asked
    show: bool = True  # display the result as soon as it arrives (False: wait in the list for review)
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def sentence(self) -> str:
        return self.finding.sentence

    def same_job(self, other: GroundingRequest) -> bool:
        return self.session is other.session and finding_key(self.finding) == finding_key(other.finding)


def overall_fraction(stage: str, fraction: float) -> float:
    """0..1 over the whole run from a stage name and the fraction done inside it."""
    index = STAGES.index(stage) if stage in STAGES else len(STAGES) - 1
    return (index + min(max(float(fraction), 0.0), 1.0)) / len(STAGES)


class GroundingRunner(QObject):
    """A FIFO of grounding requests served by one napari thread worker at a time."""

    started = Signal(object)  # request
    progressed = Signal(object, str, float)  # request, stage, fraction inside the stage
    pointed = Signal(object, object)  # request, model.depth.DepthProfile: where the sentence points (early)
    grounded = Signal(object, object)  # request, model.grounder.Grounding
    failed = Signal(object, object)  # request, exception
    cancelled = Signal(object)  # request (running or dropped from the queue)
    idle = Signal()  # nothing running, nothing queued

    def __init__(self, loader: GrounderLoader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loader = loader or load_grounder
        self._queue: deque[GroundingRequest] = deque()
        self._current: GroundingRequest | None = None
        self._worker = None
        self._grounder: Grounder | None = None
        self._grounder_key: tuple[str, str] | None = None
        self._warming = None

    # -- state -------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> GroundingRequest | None:
        return self._current

    @property
    def queued(self) -> list[GroundingRequest]:
        return list(self._queue)

    @property
    def warming(self) -> bool:
        """The background import of the model's libraries is still running."""
        return self._warming is not None and self._warming.is_alive()

    @property
    def grounder(self) -> Grounder | None:
        """The loaded model, or None before the first run."""
        return self._grounder

    # -- actions -----------------------------------------------------------------------------------------
    def submit(self, request: GroundingRequest) -> bool:
        """Queue ``request``; False when the same sentence of the same study is already waiting or running."""
        pending = [self._current, *self._queue] if self._current else list(self._queue)
        if any(request.same_job(other) for other in pending):
            return False
        self._queue.append(request)
        if self._current is None:
            self._start_next()
        return True

    def cancel(self) -> list[GroundingRequest]:
        """Stop the running request at its next stage and drop the queue; returns what was stopped."""
        dropped = list(self._queue)
        self._queue.clear()
        for request in dropped:
            self.cancelled.emit(request)
        stopped = list(dropped)
        if self._current is not None and self._worker is not None:
            self._worker.quit()
            stopped.insert(0, self._current)
        return stopped

    def warm_up(self) -> None:
        """Import the model's heavy libraries in a background thread (the default loader only).

        A plain daemon thread, not a Qt worker: it has no signals, so closing the viewer while the imports
        still run cannot make it emit into deleted Qt objects, and it never keeps the application alive.
        """
        if self._loader is not load_grounder or self._warming is not None:
            return
        self._warming = threading.Thread(target=_log_missing_imports, name="petground-warm-imports", daemon=True)
        self._warming.start()

    def shutdown(self, wait_ms: int = 2000) -> None:
        """Cancel everything and detach the running worker, so nothing it emits later reaches this object
        (the dock is closing); waits up to ``wait_ms`` for the worker's thread to stop."""
        self.cancel()
        worker, self._worker = self._worker, None
        if worker is None:
            return
        _disconnect(worker)
        self._current = None
        from napari.qt.threading import WorkerBase

        WorkerBase.await_workers(msecs=wait_ms)

    def forget_model(self) -> None:
        """Drop the loaded model (after a checkpoint or device change it is reloaded on the next run)."""
        if self._current is None:
            self._grounder = None
            self._grounder_key = None

    # -- worker ------------------------------------------------------------------------------------------
    def _start_next(self) -> None:
        from napari.qt.threading import create_worker

        if not self._queue:
            self.idle.emit()
            return
        request = self._queue.popleft()
        self._current = request
        worker = create_worker(self._run, request, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(lambda value, r=request: self._on_yielded(r, value))
        worker.returned.connect(lambda value, r=request: self.grounded.emit(r, value))
        worker.errored.connect(lambda exc, r=request: self.failed.emit(r, exc))
        worker.aborted.connect(lambda r=request: self.cancelled.emit(r))
        worker.finished.connect(lambda r=request, w=worker: self._on_finished(r, w))
        self._worker = worker
        self.started.emit(request)
        worker.start()

    def _run(self, request: GroundingRequest) -> Generator[tuple[str, object], None, Grounding]:
        """Worker body (another thread): load the model if needed, then the model's own stages."""
        key = (request.checkpoint or "", request.device)
        if self._grounder is None or self._grounder_key != key:
            yield LOADING, 0.0
            if self._warming is not None:  # importing transformers from two threads at once can fail
                self._warming.join()  # ("cannot import name 'AutoModel'"): let the warm-up finish first
            grounder = self._loader(request.checkpoint, request.device)
            self._grounder, self._grounder_key = grounder, key
            yield LOADING, 1.0
        return (yield from self._grounder.iter_ground(request.session, request.finding))

    def _on_yielded(self, request: GroundingRequest, value: tuple[str, object]) -> None:
        try:
            stage, fraction = value
        except (TypeError, ValueError):
            stage, fraction = str(value), 0.0
        if stage == DEPTH:  # not a stage: the network's answer collapsed along the body, before the mask
            self.pointed.emit(request, fraction)
            return
        self.progressed.emit(request, str(stage), float(fraction))

    def _on_finished(self, request: GroundingRequest, worker) -> None:
        if self._current is request:
            self._current = None
            self._worker = None
        _disconnect(worker)  # the slots hold the request, and with it the study's session: let both go
        self._start_next()


def _disconnect(worker) -> None:
    """Nothing a worker emits from now on reaches its slots (they are dropped, with what they hold)."""
    for signal in (worker.yielded, worker.returned, worker.errored, worker.aborted, worker.finished):
        with contextlib.suppress(TypeError, RuntimeError):
            signal.disconnect()
