"""Analytic shapes rasterised on a regular grid, each evaluated only inside its bounding box.

The phantom's anatomy is a list of ellipsoids, tubes and slabs in physical millimetres (LPS: x to the
patient's left, y posterior, z superior). Painting them box by box keeps the generator fast at any
resolution: a 2 mm whole-body grid has ~40 M voxels, but each organ touches only its own box.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..study.grid import Grid

Slices = tuple[slice, slice, slice]


def _lut(labels: Iterable[int]) -> np.ndarray:
    lut = np.zeros(256, dtype=bool)
    lut[list(labels)] = True
    return lut


class Canvas:
    """A uint8 label volume on a grid plus helpers that paint shapes box by box."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.labels = np.zeros(grid.shape, dtype=np.uint8)
        self.z, self.y, self.x = grid.axes()

    # -- boxes and coordinates -------------------------------------------------------------------------
    def box(self, lo: Sequence[float], hi: Sequence[float]) -> Slices | None:
        """Index slices of the voxels whose centres lie in [lo, hi] (zyx mm), or None when empty."""
        out = []
        for axis, a, b in zip((self.z, self.y, self.x), lo, hi, strict=True):
            i = int(np.searchsorted(axis, a, side="left"))
            j = int(np.searchsorted(axis, b, side="right"))
            if j <= i:
                return None
            out.append(slice(i, j))
        return tuple(out)  # type: ignore[return-value]

    def coords(self, sl: Slices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Open-grid coordinates (broadcastable to the box) of a box."""
        return self.z[sl[0]][:, None, None], self.y[sl[1]][None, :, None], self.x[sl[2]][None, None, :]

    def paint(self, label: int, sl: Slices, mask: np.ndarray, over: Iterable[int] | None = None) -> None:
        """Set ``label`` where ``mask``; with ``over``, only where the current label is one of those."""
        sub = self.labels[sl]
        if over is not None:
            mask = mask & _lut(over)[sub]
        sub[mask] = label

    def where(self, sl: Slices, labels: Iterable[int]) -> np.ndarray:
        return _lut(labels)[self.labels[sl]]

    # -- shapes ----------------------------------------------------------------------------------------
    def ellipsoid_mask(
        self, center: Sequence[float], radii: Sequence[float], shell: float = 0.0
    ) -> tuple[Slices, np.ndarray] | None:
        """Axis-aligned ellipsoid (optionally only a shell of ``shell`` mm) as (box, mask)."""
        c = np.asarray(center, float)
        r = np.maximum(np.asarray(radii, float), 1e-3)
        sl = self.box(c - r, c + r)
        if sl is None:
            return None
        z, y, x = self.coords(sl)
        q = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2
        mask = q <= 1.0
        if shell > 0:
            ri = np.maximum(r - shell, 1e-3)
            qi = ((z - c[0]) / ri[0]) ** 2 + ((y - c[1]) / ri[1]) ** 2 + ((x - c[2]) / ri[2]) ** 2
            mask &= qi > 1.0
        return sl, mask

    def ellipsoid(
        self, label: int, center: Sequence[float], radii: Sequence[float], over: Iterable[int] | None = None,
        shell: float = 0.0,
    ) -> None:
        got = self.ellipsoid_mask(center, radii, shell)
        if got is not None:
            self.paint(label, got[0], got[1], over)

    def capsule_mask(
        self, p0: Sequence[float], p1: Sequence[float], r0: float, r1: float | None = None
    ) -> tuple[Slices, np.ndarray] | None:
        """Segment p0→p1 (zyx mm) swept by a radius tapering from r0 to r1."""
        r1 = r0 if r1 is None else r1
        a = np.asarray(p0, float)
        b = np.asarray(p1, float)
        rmax = max(r0, r1)
        sl = self.box(np.minimum(a, b) - rmax, np.maximum(a, b) + rmax)
        if sl is None:
            return None
        z, y, x = self.coords(sl)
        d = b - a
        length2 = float(d @ d) or 1e-9
        t = ((z - a[0]) * d[0] + (y - a[1]) * d[1] + (x - a[2]) * d[2]) / length2
        t = np.clip(t, 0.0, 1.0)
        dist2 = (z - a[0] - t * d[0]) ** 2 + (y - a[1] - t * d[1]) ** 2 + (x - a[2] - t * d[2]) ** 2
        radius = r0 + (r1 - r0) * t
        return sl, dist2 <= radius**2

    def tube(
        self, label: int, points: Sequence[Sequence[float]], radius: float | Sequence[float],
        over: Iterable[int] | None = None,
    ) -> None:
        """Polyline tube; ``radius`` is one value or one per point."""
        radii = [float(radius)] * len(points) if np.isscalar(radius) else [float(r) for r in radius]  # type: ignore[arg-type]
        for i in range(len(points) - 1):
            got = self.capsule_mask(points[i], points[i + 1], radii[i], radii[i + 1])
            if got is not None:
                self.paint(label, got[0], got[1], over)

    def count(self) -> np.ndarray:
        """Voxel count per label value (length 256)."""
        return np.bincount(self.labels.ravel(), minlength=256)


def occupancy(grid: Grid, center: Sequence[float], radii: Sequence[float], sub: int = 3) -> tuple[Slices, np.ndarray]:
    """Fraction of every voxel covered by an ellipsoid (supersampled ``sub``³), inside the ellipsoid's box.

    Gives partial-volume-correct lesion activity and a voxelised mask (fraction ≥ 0.5) on any grid.
    """
    c = np.asarray(center, float)
    r = np.asarray(radii, float)
    sp = np.asarray(grid.spacing, float)
    org = np.asarray(grid.origin, float)
    lo = np.floor((c - r - org) / sp - 0.5).astype(int)
    hi = np.ceil((c + r - org) / sp + 0.5).astype(int) + 1
    lo = np.clip(lo, 0, np.asarray(grid.shape))
    hi = np.clip(hi, 0, np.asarray(grid.shape))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    coords = []
    for axis in range(3):
        idx = np.arange(lo[axis], hi[axis])
        pos = org[axis] + sp[axis] * (idx[:, None] + offsets[None, :])  # (n, sub)
        coords.append(((pos - c[axis]) / r[axis]) ** 2)
    qz, qy, qx = coords
    q = qz[:, None, None, :, None, None] + qy[None, :, None, None, :, None] + qx[None, None, :, None, None, :]
    frac = (q <= 1.0).mean(axis=(3, 4, 5)).astype(np.float32)
    return sl, frac  # type: ignore[return-value]
