"""Fields of view other than the generator's own: a phantom cut down to the chest, the abdomen and pelvis, the
neck and chest, or the head and neck, as real exams often are.

Why: a model trained and tested on one field of view learns where things are in that frame only. The cut
follows the phantom's own landmarks (anatomy.landmarks, read from its CT), with a random margin when a
generator is given, and keeps only the lesions that lie wholly inside, with their sentences; image numbers
stay those of the uncut exam, as a cropped DICOM series keeps its InstanceNumbers.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import PhantomError
from ..study.numbering import ImageNumbering
from ..study.volume import Volume

# generated as is: "neck_to_thighs" (make_phantom's default extent) and "whole_body"; cut from them:
CUTS = ("chest", "abdomen_pelvis", "neck_chest", "head_neck")
FIELDS = ("neck_to_thighs", "whole_body", *CUTS)


def field_window(phantom, field: str, rng: np.random.Generator | None = None) -> tuple[float, float]:
    """(lowest, highest) z in mm of ``field`` on this phantom, from its landmarks (jittered by up to 3 cm)."""
    from ..anatomy.landmarks import find_landmarks

    if field not in CUTS:
        raise PhantomError(f"field of view {field!r} is not a cut: choose one of {', '.join(CUTS)}")
    lm = find_landmarks(phantom.study.ct, phantom.study.pet)
    f = lm.found
    need = {"chest": ("lung_apex", "lung_base"), "abdomen_pelvis": ("lung_base", "pubic_symphysis"),
            "neck_chest": ("lung_apex", "lung_base"), "head_neck": ("lung_apex",)}[field]
    missing = [n for n in need if n not in f]
    if missing:
        raise PhantomError(f"this phantom shows no {', '.join(missing)}: it cannot be cut to {field}")
    top = float(lm.body_top)
    windows = {
        "chest": lambda: (f["lung_base"] - 50.0, f["lung_apex"] + 50.0),
        "abdomen_pelvis": lambda: (f["pubic_symphysis"] - 60.0, f["lung_base"] + 40.0),
        "neck_chest": lambda: ((f["lung_apex"] + f["lung_base"]) / 2.0, f["lung_apex"] + 160.0),
        "head_neck": lambda: (f["lung_apex"] - 40.0, top),
    }
    window = windows[field]()
    if rng is not None:
        window = (window[0] + float(rng.uniform(-30, 30)), window[1] + float(rng.uniform(-30, 30)))
    return window


def _crop(volume: Volume, k0: int, k1: int) -> Volume:
    origin = (volume.origin[0] + k0 * volume.spacing[0], volume.origin[1], volume.origin[2])
    return Volume(np.ascontiguousarray(volume.data[k0:k1]), volume.spacing, origin, volume.source_direction,
                  dict(volume.metadata))


def cut_phantom(phantom, field: str, rng: np.random.Generator | None = None):
    """The phantom seen in a shorter field of view (see module docstring); raises PhantomError when the cut
    leaves no lesion."""
    z0, z1 = field_window(phantom, field, rng)
    pet = phantom.study.pet
    k0 = max(0, int(np.ceil((z0 - pet.origin[0]) / pet.spacing[0])))
    k1 = min(pet.shape[0], int(np.floor((z1 - pet.origin[0]) / pet.spacing[0])) + 1)
    if k1 - k0 < 8:
        raise PhantomError(f"the {field} window holds only {max(k1 - k0, 0)} slices of this phantom")
    labels = phantom.lesion_labels
    inside = {les.id for les in phantom.lesions
              if (labels == les.id).any() and not (labels[:k0] == les.id).any() and not (labels[k1:] == les.id).any()}
    if not inside:
        raise PhantomError(f"no lesion of phantom {phantom.seed} lies inside its {field} window")
    kept = np.where(np.isin(labels, list(inside)), labels, 0)[k0:k1]
    study = phantom.study
    ct = study.ct
    if ct is not None:
        c0 = max(0, int(np.ceil((pet.origin[0] + k0 * pet.spacing[0] - ct.origin[0]) / ct.spacing[0] - 1e-6)))
        c1 = min(ct.shape[0], int(np.floor((pet.origin[0] + (k1 - 1) * pet.spacing[0] - ct.origin[0])
                                           / ct.spacing[0] + 1e-6)) + 1)
        ct = _crop(ct, c0, c1)
    numbering = ImageNumbering(tuple(study.numbering.numbers[k0:k1]), study.numbering.convention)
    lesions = [les for les in phantom.lesions if les.id in inside]
    lesions = [replace(les, peak_index=(les.peak_index[0] - k0, *les.peak_index[1:])) for les in lesions]
    sentences = [s for s in phantom.sentences
                 if (s.lesion_id is None or s.lesion_id in inside) and set(s.lesion_ids) <= inside]
    report = "\n".join(s.text for s in sentences)
    site_map = phantom.site_map[k0:k1]
    extras = {**study.extras, "site_map": site_map, "lesion_labels": kept, "field_of_view": field}
    new_study = replace(study, pet=_crop(pet, k0, k1), ct=ct, numbering=numbering, report=report, extras=extras)
    options = {**phantom.options, "field_of_view": field, "window_mm": (float(z0), float(z1))}
    return replace(phantom, study=new_study, lesion_labels=kept, site_map=site_map, lesions=lesions, report=report,
                   sentences=sentences, options=options)


def phantom_in_field(seed: int, field: str = "neck_to_thighs", *, rng: np.random.Generator | None = None,
                     **options):
    """A phantom seen in ``field`` (one of FIELDS): generated whole body for the head and neck (the generator's
    neck-to-thigh extent starts below it) and neck to thighs otherwise, then cut when ``field`` is a cut.
    ``options`` go to make_phantom (tracer, resolution_mm, version, n_lesions). Raises PhantomError when the
    cut leaves no lesion, so evaluation and training pass over such a seed alike."""
    from .generate import make_phantom

    if field not in FIELDS:
        raise PhantomError(f"field of view {field!r} is unknown: choose one of {', '.join(FIELDS)}")
    extent = "whole_body" if field in ("whole_body", "head_neck") else "neck_to_thighs"
    phantom = make_phantom(seed, extent=extent, **options)
    return cut_phantom(phantom, field, rng) if field in CUTS else phantom
