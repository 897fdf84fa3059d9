"""Rasterise an RTSTRUCT contour (e.g. a physician's GTV) onto the PET grid, to measure weak labels against it.

Contours are closed planar polygons in patient coordinates (DICOM LPS, mm). Every polygon is drawn on the
axial slice nearest its z position; a voxel is inside when its centre is inside an odd number of the
polygons of that slice (the DICOM convention for holes). Only canonical volumes (identity direction) are
supported, which is what ``study.Volume`` always holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import WeakLabelError
from ..study.volume import Volume


def roi_names(path: str | Path) -> list[str]:
    """Names of the regions of interest in an RTSTRUCT file."""
    import pydicom

    ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    return [str(r.ROIName) for r in getattr(ds, "StructureSetROISequence", [])]


def _points_in_polygon(px: np.ndarray, py: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd test of points (px, py) against polygon vertices poly (n, 2) as (x, y)."""
    inside = np.zeros(px.shape, dtype=bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for a_x, a_y, b_x, b_y in zip(x0, y0, x1, y1, strict=True):
        if a_y == b_y:
            continue
        crosses = (a_y > py) != (b_y > py)
        x_at = a_x + (py - a_y) * (b_x - a_x) / (b_y - a_y)
        inside ^= crosses & (px < x_at)
    return inside


def rasterize_rtstruct(path: str | Path, grid: Volume, roi: str | None = None) -> np.ndarray:
    """Boolean mask (z, y, x) on ``grid`` of the ROI named ``roi`` (default: the first whose name has "GTV")."""
    import pydicom

    ds = pydicom.dcmread(str(path))
    rois = {int(r.ROINumber): str(r.ROIName) for r in getattr(ds, "StructureSetROISequence", [])}
    if not rois:
        raise WeakLabelError(f"{path} holds no structure set ROI; pass an RTSTRUCT file")
    if roi is None:
        number = next((n for n, name in rois.items() if "gtv" in name.lower()), next(iter(rois)))
    else:
        matches = [n for n, name in rois.items() if name == roi or name.lower().startswith(roi.lower())]
        if not matches:
            raise WeakLabelError(f"ROI {roi!r} not in {path}; it has {', '.join(rois.values())}")
        number = matches[0]
    contours = next(
        (rc for rc in ds.ROIContourSequence if int(rc.ReferencedROINumber) == number), None
    )
    mask = np.zeros(grid.shape, dtype=bool)
    if contours is None or not hasattr(contours, "ContourSequence"):
        return mask
    oz, oy, ox = grid.origin
    sz, sy, sx = grid.spacing
    nz, ny, nx = grid.shape
    per_slice: dict[int, np.ndarray] = {}
    for c in contours.ContourSequence:
        pts = np.asarray(c.ContourData, dtype=float).reshape(-1, 3)  # x, y, z in mm
        if len(pts) < 3:
            continue
        k = int(round((float(np.mean(pts[:, 2])) - oz) / sz))
        if not 0 <= k < nz:
            continue
        ix = (pts[:, 0] - ox) / sx
        iy = (pts[:, 1] - oy) / sy
        y_lo, y_hi = max(int(np.floor(iy.min())), 0), min(int(np.ceil(iy.max())), ny - 1)
        x_lo, x_hi = max(int(np.floor(ix.min())), 0), min(int(np.ceil(ix.max())), nx - 1)
        if y_lo > y_hi or x_lo > x_hi:
            continue
        yy, xx = np.mgrid[y_lo:y_hi + 1, x_lo:x_hi + 1]
        inside = _points_in_polygon(xx.astype(float), yy.astype(float), np.stack([ix, iy], axis=1))
        layer = per_slice.setdefault(k, np.zeros((ny, nx), dtype=bool))
        layer[y_lo:y_hi + 1, x_lo:x_hi + 1] ^= inside
    for k, layer in per_slice.items():
        mask[k] = layer
    return mask
