"""On real sarcoma PET with physician contours, the default growing method beats every fixed rule."""

from __future__ import annotations

import numpy as np

from napari_petground.weaklabel.grow import DEFAULT_METHOD, grow_lesion
from napari_petground.weaklabel.rtstruct import rasterize_rtstruct, roi_names

PATIENTS = ("STS_002", "STS_008", "STS_019", "STS_025")


def dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_default_method_beats_fixed_rules_on_ibsi(ibsi_dir):
    from napari_petground.study import load_study

    scores: dict[str, list[float]] = {}
    for name in PATIENTS:
        study = load_study(ibsi_dir / name)
        rs = ibsi_dir / name / "PET" / "mask" / "RS.dcm"
        assert any("GTV" in r for r in roi_names(rs))
        gtv = rasterize_rtstruct(rs, study.pet)
        assert 10 < gtv.sum() * study.pet.voxel_volume_ml < 100  # tumours of tens of ml
        pet = study.pet.data
        seed = np.unravel_index(int(np.argmax(pet)), pet.shape)
        assert gtv[seed]  # the hottest voxel is in the contoured tumour: the contour lies on the PET grid
        for method in (DEFAULT_METHOD, "jentzen", "fixed41", "fixed50", "suv2.5"):
            result = grow_lesion(pet, seed, study.pet.spacing, method)
            scores.setdefault(method, []).append(dice(result.mask, gtv))
    means = {m: float(np.mean(v)) for m, v in scores.items()}
    best_fixed = max(means[m] for m in ("jentzen", "fixed41", "fixed50", "suv2.5"))
    assert means[DEFAULT_METHOD] > best_fixed, means
    assert means[DEFAULT_METHOD] >= 0.65, means
