"""Canonical LPS geometry: turn any stored grid into an identity-direction Volume, and back again.

A grid whose axes are a signed permutation of L, P, S (axial, sagittal, coronal, feet-first, flipped rows)
becomes identity by transposing and flipping the array: exact, no interpolation (the equivalent of SimpleITK
``DICOMOrient(image, "LPS")``). An oblique grid (gantry tilt, rotated acquisitions) is resampled onto an
axis-aligned grid covering it, with a warning. The source geometry is kept in ``Volume.metadata`` so writers
put labels back exactly where the file had its voxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .volume import IDENTITY_DIRECTION, Volume

SOURCE_GEOMETRY_KEY = "source_geometry"
OBLIQUE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class SourceGeometry:
    """The grid of a file in SimpleITK terms: (x, y, z) size, spacing, origin, row-major direction."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]

    def matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    def as_dict(self) -> dict:
        return {"size": self.size, "spacing": self.spacing, "origin": self.origin, "direction": self.direction}


def signed_permutation(direction: np.ndarray) -> tuple[list[int], list[int]] | None:
    """For each LPS axis, (which source axis, its sign); None when the grid is oblique."""
    axes, signs = [], []
    for lps_axis in range(3):
        row = direction[lps_axis]
        src = int(np.argmax(np.abs(row)))
        if abs(abs(row[src]) - 1.0) > OBLIQUE_TOLERANCE:
            return None
        axes.append(src)
        signs.append(int(np.sign(row[src])))
    return (axes, signs) if sorted(axes) == [0, 1, 2] else None


def canonical_volume(data_zyx: np.ndarray, geometry: SourceGeometry, metadata: dict | None = None,
                     interpolation: str = "linear") -> tuple[Volume, list[str]]:
    """Array in the file's (z, y, x) order with its geometry -> identity-direction Volume, warnings."""
    direction = geometry.matrix()
    metadata = dict(metadata or {})
    metadata[SOURCE_GEOMETRY_KEY] = geometry.as_dict()
    perm = signed_permutation(direction)
    if perm is None:
        return _resample_oblique(data_zyx, geometry, metadata, interpolation)
    axes, signs = perm
    spacing_xyz = np.asarray(geometry.spacing, dtype=float)
    size_xyz = np.asarray(geometry.size)
    # array axis for source axis a (x,y,z) is 2 - a; reorder so array axes become (S, P, L)
    order = [2 - axes[2], 2 - axes[1], 2 - axes[0]]
    data = np.transpose(data_zyx, order)
    new_origin = np.asarray(geometry.origin, dtype=float).copy()
    for lps_axis in range(3):
        if signs[lps_axis] < 0:
            src = axes[lps_axis]
            data = np.flip(data, axis=2 - lps_axis)
            extent = (size_xyz[src] - 1) * spacing_xyz[src]
            new_origin = new_origin + direction[:, src] * extent
    data = np.ascontiguousarray(data)
    spacing_lps = [spacing_xyz[axes[i]] for i in range(3)]
    volume = Volume(
        data=data,
        spacing=(spacing_lps[2], spacing_lps[1], spacing_lps[0]),
        origin=(new_origin[2], new_origin[1], new_origin[0]),
        source_direction=tuple(float(v) for v in geometry.direction),
        metadata=metadata,
    )
    return volume, []


def source_geometry(volume: Volume) -> SourceGeometry:
    """The file geometry a volume came from (its own grid when it was made in memory)."""
    stored = volume.metadata.get(SOURCE_GEOMETRY_KEY)
    if stored:
        return SourceGeometry(tuple(int(v) for v in stored["size"]), tuple(stored["spacing"]),
                              tuple(stored["origin"]), tuple(stored["direction"]))
    z, y, x = volume.shape
    return SourceGeometry((x, y, z), volume.spacing[::-1], volume.origin[::-1], IDENTITY_DIRECTION)


def to_source_array(data: np.ndarray, volume: Volume) -> np.ndarray:
    """Inverse of ``canonical_volume`` for an array on ``volume``'s grid: the file's (z, y, x) array."""
    geometry = source_geometry(volume)
    perm = signed_permutation(geometry.matrix())
    if perm is None:
        return _resample_to_source(data, volume, geometry)
    axes, signs = perm
    for lps_axis in range(3):
        if signs[lps_axis] < 0:
            data = np.flip(data, axis=2 - lps_axis)
    order = [2 - axes[2], 2 - axes[1], 2 - axes[0]]
    return np.ascontiguousarray(np.transpose(data, np.argsort(order)))


def _to_sitk(data_zyx: np.ndarray, geometry: SourceGeometry):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(data_zyx)
    image.SetSpacing([float(v) for v in geometry.spacing])
    image.SetOrigin([float(v) for v in geometry.origin])
    image.SetDirection([float(v) for v in geometry.direction])
    return image


def _resample_oblique(data_zyx: np.ndarray, geometry: SourceGeometry, metadata: dict,
                      interpolation: str) -> tuple[Volume, list[str]]:
    import SimpleITK as sitk

    image = _to_sitk(data_zyx, geometry)
    size = np.asarray(geometry.size)
    corners = np.array([[i, j, k] for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)])
    world = np.array([image.TransformContinuousIndexToPhysicalPoint([float(c) for c in corner]) for corner in corners])
    spacing = np.full(3, float(min(geometry.spacing)))
    spacing[2] = float(geometry.spacing[2])  # keep the slice distance along z
    lo, hi = world.min(axis=0), world.max(axis=0)
    new_size = [int(np.ceil((hi[a] - lo[a]) / spacing[a])) + 1 for a in range(3)]
    fill = float(np.min(data_zyx)) if data_zyx.size else 0.0
    resampled = sitk.Resample(
        image, new_size, sitk.Transform(), sitk.sitkLinear if interpolation == "linear" else sitk.sitkNearestNeighbor,
        lo.tolist(), spacing.tolist(), list(IDENTITY_DIRECTION), fill, image.GetPixelID(),
    )
    volume = Volume(
        data=sitk.GetArrayFromImage(resampled),
        spacing=(spacing[2], spacing[1], spacing[0]),
        origin=(lo[2], lo[1], lo[0]),
        source_direction=tuple(float(v) for v in geometry.direction),
        metadata=metadata,
    )
    return volume, ["the image grid is oblique; it was resampled onto an axis-aligned LPS grid"]


def _resample_to_source(data: np.ndarray, volume: Volume, geometry: SourceGeometry) -> np.ndarray:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(data))
    image.SetSpacing(volume.spacing[::-1])
    image.SetOrigin(volume.origin[::-1])
    back = sitk.Resample(
        image, [int(v) for v in geometry.size], sitk.Transform(), sitk.sitkNearestNeighbor,
        [float(v) for v in geometry.origin], [float(v) for v in geometry.spacing],
        [float(v) for v in geometry.direction], 0, image.GetPixelID(),
    )
    return sitk.GetArrayFromImage(back)
