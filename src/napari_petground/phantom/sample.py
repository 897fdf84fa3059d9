"""The demo study behind napari's sample-data entry: a fixed FDG phantom with a left/right twin pair.

Neck to thighs at 4 mm with five lesions, built once per process (the arrays are cached), so reopening
the sample is instant. Each call returns a fresh Study sharing the cached arrays read-only.
"""

from __future__ import annotations

import copy
from functools import cache

from ..study.study import Study
from .generate import Phantom, make_phantom

DEMO_SEED = 20250102


@cache
def demo_phantom() -> Phantom:
    """The demo phantom (cached per process): FDG, 4 mm, five lesions including a twin pair."""
    for offset in range(200):
        ph = make_phantom(DEMO_SEED + offset, tracer="FDG", resolution_mm=4.0, n_lesions=5,
                          extent="neck_to_thighs")
        twins = [les for les in ph.lesions if les.kind == "twin"]
        if len(ph.lesions) == 5 and len(twins) == 2 and any(s.kind == "numbers" for s in ph.sentences):
            for array in (ph.study.pet.data, ph.study.ct.data, ph.lesion_labels, ph.site_map):
                array.flags.writeable = False
            return ph
    raise RuntimeError("no demo phantom with a twin pair in 200 seeds")  # pragma: no cover


def demo_study() -> Study:
    """A Study of the demo phantom with its report; arrays are shared and read-only, metadata is a copy."""
    ph = demo_phantom()
    study = copy.copy(ph.study)
    study.pet = copy.copy(ph.study.pet)
    study.ct = copy.copy(ph.study.ct)
    study.patient = copy.copy(ph.study.patient)
    study.warnings = list(ph.study.warnings)
    study.extras = dict(ph.study.extras)
    study.patient.patient_id = "DEMO"
    study.patient.name = "Demo^Phantom"
    return study
