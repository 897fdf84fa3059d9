"""A minimal analytic PET/CT (elliptic body, two lungs, hot spheres) for exercising the I/O path.

Enough anatomy to check orientation (the hot sphere sits in the patient's right lung) and values (known
SUVmax), cheap to build at whole-body size for benchmarks. Realistic phantoms with reports live in phantom/.
"""

from __future__ import annotations

import numpy as np

from .numbering import ImageNumbering
from .study import PatientInfo, Study
from .volume import Volume

HOT_SUV = 12.0  # SUVmax of the lesion in the patient's right lung
BACKGROUND_SUV = 1.0


def _axes(shape: tuple[int, int, int], spacing: tuple[float, float, float], origin: tuple[float, float, float]):
    return [origin[a] + np.arange(shape[a], dtype=np.float32) * spacing[a] for a in range(3)]


def _body(z, y, x, extent_x: float, extent_y: float):
    """Masks (body, right lung, left lung) on the grid given by 1D axes (LPS: x>0 is the patient's left)."""
    yy, xx = np.meshgrid(y, x, indexing="ij")
    body2d = (xx / (0.42 * extent_x)) ** 2 + (yy / (0.36 * extent_y)) ** 2 <= 1.0
    right2d = ((xx + 0.18 * extent_x) / (0.12 * extent_x)) ** 2 + (yy / (0.2 * extent_y)) ** 2 <= 1.0
    left2d = ((xx - 0.18 * extent_x) / (0.12 * extent_x)) ** 2 + (yy / (0.2 * extent_y)) ** 2 <= 1.0
    z_mid = (z[0] + z[-1]) / 2.0
    z_half = (z[-1] - z[0]) / 2.0
    thorax = np.abs(z - (z_mid + 0.2 * z_half)) <= 0.3 * z_half
    return body2d, right2d, left2d, thorax


def synthetic_study(ct_shape: tuple[int, int, int] = (40, 64, 64), pet_shape: tuple[int, int, int] = (20, 32, 32),
                    field_mm: tuple[float, float, float] = (400.0, 400.0, 400.0), name: str = "SYNTH001",
                    weight_kg: float = 75.0) -> Study:
    """Study with CT (int16 HU) and PET (SUV) covering the same ``field_mm`` (z, y, x), centred on 0."""
    def grid(shape):
        spacing = tuple(f / s for f, s in zip(field_mm, shape, strict=True))
        origin = tuple(-f / 2 + sp / 2 for f, sp in zip(field_mm, spacing, strict=True))
        return spacing, origin

    ct_spacing, ct_origin = grid(ct_shape)
    pet_spacing, pet_origin = grid(pet_shape)
    ct = np.full(ct_shape, -1000, dtype=np.int16)
    z, y, x = _axes(ct_shape, ct_spacing, ct_origin)
    body, right, left, thorax = _body(z, y, x, field_mm[2], field_mm[1])
    ct[:, body] = 40
    lungs = right | left
    ct[np.ix_(thorax, np.ones(len(y), bool), np.ones(len(x), bool))] = np.where(lungs, -850, ct[thorax])
    pet = np.zeros(pet_shape, dtype=np.float32)
    z, y, x = _axes(pet_shape, pet_spacing, pet_origin)
    body, right, left, thorax = _body(z, y, x, field_mm[2], field_mm[1])
    pet[:, body] = BACKGROUND_SUV
    pet[np.ix_(thorax, np.ones(len(y), bool), np.ones(len(x), bool))] *= np.where(right | left, 0.3, 1.0)
    # hot sphere in the patient's right lung (negative x in LPS), radius ~ 2.5 PET voxels
    centre = np.array([(z[0] + z[-1]) / 2 + 0.2 * (z[-1] - z[0]) / 2, 0.0, -0.18 * field_mm[2]])
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    radius = 2.5 * max(pet_spacing)
    dist2 = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
    sphere = np.exp(-dist2 / (2 * (radius / 2) ** 2)) * (HOT_SUV - BACKGROUND_SUV * 0.3)
    pet = np.maximum(pet, (sphere + BACKGROUND_SUV * 0.3) * (dist2 <= radius**2))
    pet = pet.astype(np.float32)
    pet[np.unravel_index(np.argmin(dist2), pet.shape)] = HOT_SUV
    return Study(
        pet=Volume(pet, pet_spacing, pet_origin),
        ct=Volume(ct, ct_spacing, ct_origin),
        numbering=ImageNumbering.from_convention(pet_shape[0]),
        tracer="FDG",
        patient=PatientInfo(patient_id=name, name=name, sex="O", weight_kg=weight_kg),
        source_kind="synthetic",
        extras={"hot_centre_zyx_mm": tuple(float(c) for c in centre)},
    )
