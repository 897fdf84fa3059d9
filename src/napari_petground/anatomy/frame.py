"""The anatomical frame: where a position is in the body, the same whatever the field of view.

Built on the landmarks a study shows (anatomy.landmarks):

* the body axis ``axial(z)``: millimetres below the vertex of a standard adult, piecewise linear between the
  landmarks found (each has a standard position, ``STANDARD_MM``) and extended beyond them with the scale of the
  nearest pair (with a single landmark, the standard scale); NaN when no landmark was seen;
* left–right ``lateral(z, x)``: distance from the midline (the spine's centre where it is seen) over the body's
  half width at that level, left positive;
* front–back ``anterior(z, y)``: distance in front of the spine's front (else of the body's centre) over the
  body's half depth.

Why: positions relative to the body's bounding box mean different places in different fields of view; these
do not. ``describe()`` tells the user what was seen and which body regions the exam covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..study.volume import Volume
from .landmarks import LANDMARK_NAMES, Landmarks, find_landmarks

# millimetres below the vertex of a standard 1.75 m adult (anthropometric averages, rounded)
STANDARD_MM = {"vertex": 0.0, "skull_base": 140.0, "lung_apex": 280.0, "lung_base": 530.0, "iliac_crest": 690.0,
               "pubic_symphysis": 860.0, "perineum": 920.0}
# the network's body-axis channel: (AXIS_CENTRE_MM - standard mm) / AXIS_SCALE_MM, superior positive
AXIS_CENTRE_MM, AXIS_SCALE_MM = 600.0, 300.0
# body regions along the standard axis (upper bound, exclusive)
REGIONS = (("head", 140.0), ("neck", 280.0), ("chest", 530.0), ("abdomen", 690.0), ("pelvis", 920.0),
           ("legs", 1800.0))


@dataclass
class AnatomicalFrame:
    landmarks: Landmarks

    @classmethod
    def of(cls, ct: Volume | None, pet: Volume | None) -> AnatomicalFrame:
        return cls(find_landmarks(ct, pet))

    @property
    def anchors(self) -> list[tuple[float, float]]:
        """(z mm, standard mm) of the landmarks found, from the top of the body down."""
        pairs = [(z, STANDARD_MM[name]) for name, z in self.landmarks.found.items() if name in STANDARD_MM]
        return sorted(pairs, key=lambda p: -p[0])

    @property
    def located(self) -> bool:
        """Is there at least one landmark to place the exam along the body?"""
        return bool(self.anchors)

    def axial(self, z_mm: np.ndarray | float) -> np.ndarray:
        """Standard millimetres below the vertex for LPS z (mm); NaN without landmarks."""
        z = np.atleast_1d(np.asarray(z_mm, dtype=float))
        anchors = self.anchors
        if not anchors:
            return np.full(np.shape(z_mm), np.nan)
        if len(anchors) == 1:
            z0, s0 = anchors[0]
            return (s0 + (z0 - z)).reshape(np.shape(z_mm))
        zs = np.array([a[0] for a in anchors])[::-1]  # ascending z
        ss = np.array([a[1] for a in anchors])[::-1]
        out = np.atleast_1d(np.interp(z, zs, ss)).astype(float)
        below, above = z < zs[0], z > zs[-1]
        lo_scale = (ss[0] - ss[1]) / (zs[1] - zs[0])  # standard mm per mm, at the lowest pair
        hi_scale = (ss[-2] - ss[-1]) / (zs[-1] - zs[-2])
        out[below] = ss[0] + (zs[0] - z[below]) * lo_scale
        out[above] = ss[-1] - (z[above] - zs[-1]) * hi_scale
        return out.reshape(np.shape(z_mm))

    def _per_slice(self, values: np.ndarray | None, z: np.ndarray) -> np.ndarray:
        lm = self.landmarks
        if values is None:
            return np.full(z.shape, np.nan)
        ok = np.isfinite(values)
        if not ok.any():
            return np.full(z.shape, np.nan)
        return np.interp(z, lm.z[ok], values[ok])

    def lateral(self, z_mm: np.ndarray | float, x_mm: np.ndarray | float) -> np.ndarray:
        """(x − midline) / half width at that level: −1 at the right edge of the body, +1 at the left."""
        z = np.asarray(z_mm, dtype=float)
        mid = self._per_slice(self.landmarks.midline_x, z)
        half = self._per_slice(self.landmarks.half_width, z)
        return (np.asarray(x_mm, dtype=float) - mid) / np.maximum(half, 1.0)

    def anterior(self, z_mm: np.ndarray | float, y_mm: np.ndarray | float) -> np.ndarray:
        """Distance in front of the spine (or of the body's centre where no spine is seen) / half depth."""
        lm = self.landmarks
        z = np.asarray(z_mm, dtype=float)
        reference = self._per_slice(lm.spine_y, z)
        centre = self._per_slice(lm.centre_y, z)
        reference = np.where(np.isfinite(reference), reference, centre)
        half = self._per_slice(lm.half_depth, z)
        return (reference - np.asarray(y_mm, dtype=float)) / np.maximum(half, 1.0)

    def channels(self, z: np.ndarray, y: np.ndarray, x: np.ndarray,
                 fallback_z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The network's coordinate channels on a grid of axes ``z``, ``y``, ``x`` (mm): left–right (Z, 1, X),
        back–front (Z, Y, 1, posterior positive) and the body axis (Z, 1, 1, superior positive); where no
        landmark places the exam, ``fallback_z`` (the caller's box-relative axis) stands in for the body axis."""
        zz = np.asarray(z, float)
        lateral = np.nan_to_num(self.lateral(zz[:, None], np.asarray(x, float)[None, :]), nan=0.0)
        posterior = -np.nan_to_num(self.anterior(zz[:, None], np.asarray(y, float)[None, :]), nan=0.0)
        axis = (AXIS_CENTRE_MM - self.axial(zz)) / AXIS_SCALE_MM if self.located else np.asarray(fallback_z, float)
        return (lateral[:, None, :].astype(np.float32), posterior[:, :, None].astype(np.float32),
                np.asarray(axis, np.float32)[:, None, None])

    def regions(self) -> list[str]:
        """Body regions the exam covers (head … legs), from its top and bottom body slices."""
        lm = self.landmarks
        if not self.located or lm.body_top is None or lm.body_bottom is None:
            return []
        top, bottom = (float(v) for v in self.axial(np.array([lm.body_top, lm.body_bottom])))
        out, upper = [], 0.0
        for name, lower in REGIONS:
            if bottom > upper and top < lower:
                out.append(name)
            upper = lower
        return out

    def describe(self) -> str:
        """One line for the user: what was seen and what the exam covers."""
        text = self.landmarks.describe()
        covered = self.regions()
        return text + (f"; covers {', '.join(covered)}" if covered else "")


__all__ = ["AnatomicalFrame", "LANDMARK_NAMES", "REGIONS", "STANDARD_MM"]
