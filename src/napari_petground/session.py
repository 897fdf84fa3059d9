"""One opened study and everything the house derives from it, in one evented, plain-Python object.

A :class:`StudySession` holds the Study, its data signature (computed once, on first use), its image
numbering, its anatomical frame (anatomy.frame: the landmarks found and the body coordinates read from them;
``None`` until the grounder first computes it), the encoder features of each checkpoint (in memory, optionally on disk), the accepted findings
(:class:`~napari_petground.findings.FindingsStore`) and the typed grounding results. Its layers carry it in
``metadata["petground"]["session"]``, so any dock, the npe2 writer or a script reaches all of it from any
layer of the study with one lookup (:func:`session_of`). It knows nothing of Qt or napari: its events are
psygnal signals, as napari's own models use.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from psygnal import Signal, SignalGroup

from .findings.records import FindingsStore
from .report.finding import Finding
from .study.numbering import ImageNumbering
from .study.study import Study

if TYPE_CHECKING:
    from .model.features import StudyFeatures
    from .model.grounder import Grounding

FEATURE_FOLDER_ENV = "PETGROUND_FEATURE_CACHE"  # a folder: encoder features are kept there between runs
LayerData = tuple[Any, dict, str]


def study_signature(study: Study) -> str:
    """Hash of the study's PET and CT arrays and grids: what its derived data (features) is keyed by."""
    digest = hashlib.blake2b(digest_size=16)
    for volume in (study.pet, study.ct):
        if volume is None:
            digest.update(b"none")
            continue
        data = np.ascontiguousarray(volume.data)
        digest.update(repr((data.shape, str(data.dtype), volume.spacing, volume.origin)).encode())
        digest.update(memoryview(data).cast("B"))
    return digest.hexdigest()


def finding_key(finding: Finding) -> tuple:
    """What makes two findings the same job (a re-parse of the same text gives equal keys)."""
    return (finding.sentence, finding.suvmax, finding.slice, finding.laterality, finding.site)


# what a grounding result is waiting for
QUEUED, RUNNING, READY, ACCEPTED, REJECTED, FAILED, NOTHING = "…", "▶", "●", "✓", "✗", "!", "∅"


@dataclass(eq=False)
class GroundingResult:
    """A grounding kept for review: the chosen lesion mask (bool, PET grid), what was measured, where it came
    from and what the reader did with it."""

    finding: Finding
    grounding: Grounding | None  # the model's answer (None for a result made otherwise)
    mask: np.ndarray | None
    stats: Any  # weaklabel ComponentStats of the mask, None when nothing was found
    agreement: Any = None  # weaklabel Agreement of the model's choice
    model: dict = field(default_factory=dict)  # checkpoint, device, method, timings
    flags: list[str] = field(default_factory=list)
    status: str = READY
    described: str = ""  # the describer's phrase for the chosen mask ("left external iliac lymph node")
    consistency: tuple[bool, str] | None = None  # does the sentence's site and side fit the description?

    @property
    def sentence(self) -> str:
        return self.finding.sentence

    @property
    def key(self) -> tuple:
        return finding_key(self.finding)


class SessionEvents(SignalGroup):
    """What changed in a session (plain psygnal signals: no Qt needed to listen)."""

    result = Signal(object)  # GroundingResult stored or changed
    results_cleared = Signal()
    features = Signal(str)  # encoder features of a checkpoint became available
    frame = Signal(object)  # the anatomical frame was set


class StudySession:
    """One opened study: the Study and what is derived from it, shared by the docks, the writer and the model."""

    def __init__(self, study: Study, *, feature_folder: str | os.PathLike | None = None,
                 signature: str | None = None) -> None:
        self.study = study
        self._signature = signature
        self.events = SessionEvents()
        self.findings = FindingsStore()
        self.frame: Any = None  # the body's anatomical frame (anatomy.frame), once the grounder has computed it
        folder = feature_folder if feature_folder is not None else os.environ.get(FEATURE_FOLDER_ENV) or None
        self.feature_folder = Path(folder) if folder else None
        self._features: dict[str, StudyFeatures] = {}
        self._features_lock = threading.Lock()  # grounding and describing workers: one computes, one waits
        self._results: dict[tuple, GroundingResult] = {}

    def __repr__(self) -> str:
        return f"StudySession({self.study.name!r}, findings={len(self.findings)})"

    @property
    def signature(self) -> str:
        """Hash of the study's arrays (study_signature), computed once, when first needed: what encoder
        features are kept under on disk."""
        if self._signature is None:
            self._signature = study_signature(self.study)
        return self._signature

    @property
    def numbering(self) -> ImageNumbering:
        """Image number of every PET slice (DICOM InstanceNumber, or the documented convention)."""
        return self.study.numbering

    def set_frame(self, frame: Any) -> None:
        self.frame = frame
        self.events.frame.emit(frame)

    # -- encoder features ------------------------------------------------------------------------------------
    def features(self, key: str, compute: Callable[[], StudyFeatures], *, checkpoint: str = "",
                 load: Callable[[Any], StudyFeatures | None] | None = None) -> StudyFeatures:
        """The encoder features under ``key`` (checkpoint and device): kept here, else read from the feature
        folder (``load(folder)``), else computed once (``compute()``) and stored in both."""
        with self._features_lock:
            return self._features.get(key) or self._make_features(key, compute, checkpoint, load)

    def _make_features(self, key: str, compute: Callable[[], StudyFeatures], checkpoint: str,
                       load: Callable[[Any], StudyFeatures | None] | None) -> StudyFeatures:
        hit = None
        store = None
        if self.feature_folder is not None and checkpoint:
            from .model.features import FeatureFolder

            store = FeatureFolder(self.feature_folder)
            hit = load(store) if load is not None else None
        if hit is None:
            hit = compute()
            if store is not None:
                try:
                    store.save(self.signature, hit)
                except OSError as exc:  # a cache that cannot be written is only slower next time
                    import logging

                    logging.getLogger(__name__).info("features not kept on disk: %s", exc)
        self._features[key] = hit
        self.events.features.emit(key)
        return hit

    def cached_features(self, key: str) -> StudyFeatures | None:
        return self._features.get(key)

    def forget_features(self) -> None:
        self._features.clear()

    # -- grounding results -----------------------------------------------------------------------------------
    def store_result(self, result: GroundingResult) -> GroundingResult:
        self._results[result.key] = result
        self.events.result.emit(result)
        return result

    def result(self, finding: Finding) -> GroundingResult | None:
        return self._results.get(finding_key(finding))

    def drop_result(self, finding: Finding) -> None:
        self._results.pop(finding_key(finding), None)

    @property
    def results(self) -> list[GroundingResult]:
        return list(self._results.values())

    def set_status(self, result: GroundingResult, status: str) -> None:
        if result.status != status:
            result.status = status
            self.events.result.emit(result)


def _info(layer_or_metadata: Any) -> dict:
    """``metadata["petground"]`` of a layer, a layer's metadata or an npe2 writer's attributes ({} if none)."""
    metadata = layer_or_metadata if isinstance(layer_or_metadata, dict) else getattr(layer_or_metadata, "metadata",
                                                                                      None)
    if isinstance(metadata, dict) and isinstance(metadata.get("metadata"), dict):
        metadata = metadata["metadata"]  # an npe2 writer's attributes
    info = metadata.get("petground") if isinstance(metadata, dict) else None
    return info if isinstance(info, dict) else {}


def session_of(layer_or_metadata: Any) -> StudySession | None:
    """The session of a layer (or of a layer's metadata, or of an npe2 writer's attributes), or None."""
    session = _info(layer_or_metadata).get("session")
    return session if isinstance(session, StudySession) else None


def role_of(layer_or_metadata: Any) -> str:
    """The role a layer plays for its session: "ct", "pet", "prediction", "findings", ... or ""."""
    return str(_info(layer_or_metadata).get("role", ""))


def tag(session: StudySession, role: str) -> dict:
    """The ``metadata["petground"]`` of a layer playing ``role`` for ``session``."""
    return {"session": session, "role": role}


def session_layers(session: StudySession, **options: Any) -> list[LayerData]:
    """napari layer data of the session's study (study.layers.study_layers), each layer carrying the session."""
    from .study.layers import study_layers

    layers = study_layers(session.study, **options)
    for _data, kwargs, _kind in layers:
        metadata = kwargs["metadata"]
        metadata["petground"] = tag(session, metadata["petground"]["role"])
    return layers
