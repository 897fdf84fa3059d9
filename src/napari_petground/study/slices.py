"""Placing the images of one DICOM series on a regular 3D grid by their real positions.

Every header value that decides where a voxel sits is checked before it is used: ImageOrientationPatient
must hold two perpendicular unit vectors, PixelSpacing two positive distances, ImagePositionPatient three
finite numbers, and all of them must agree between the images. A copy of an image (same SOPInstanceUID, or
identical pixels, at the same position) is skipped with a note; two different images at one position are
refused by name (only when every position holds the same number of images is the series taken as 4D,
dynamic or gated).

Slices are then placed by their positions along the slice normal, never at a spacing guessed from their
count. The smallest step sets the whole-number slice index of every image (so a gap shows wherever two
images somewhere in the series are one slice apart), and spacing and origin are fitted to those indices by
least squares. A position further than ``GRID_TOLERANCE`` (10 %) of a slice from its grid place, or a
sideways shift between slices (gantry tilt), is refused: stacking such a series would put voxels where they
are not. A gap of a whole number of slices means images are missing; gaps of up to ``MAX_FILLED`` slices
are filled by linear interpolation between the neighbouring slices, so everything after the gap stays
aligned with the CT, with a warning that names the missing images. Larger gaps are refused: interpolating
over more than about a centimetre of PET would invent uptake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StudyError
from ..wording import agree, plural, with_article
from .geometry import SourceGeometry

GRID_TOLERANCE = 0.1  # of a slice: how far a position may sit from its place on the fitted grid
SHEAR_TOLERANCE = 0.1  # of a pixel: how far a slice may be shifted sideways from the first one
NOTE_TOLERANCE = 0.02  # of a slice: deviations above this are mentioned
MAX_FILLED = 2  # consecutive missing slices that are filled by interpolation
SAME_POSITION_MM = 1e-3
SameImage = Callable[[int, int], bool]


@dataclass
class Placement:
    """Where each kept image of a series goes on the grid, and the grid itself."""

    order: list[int]  # indices of the kept images, sorted along the slice normal
    slots: np.ndarray  # per grid slice (file order): index into ``order``, or -1 where an image is missing
    geometry: SourceGeometry
    notes: list[str] = field(default_factory=list)

    @property
    def filled(self) -> list[int]:
        """Grid slices (file order) that no image holds: filled by interpolation."""
        return [int(z) for z in np.flatnonzero(self.slots < 0)]


def _values(ds, keyword: str, tag: str, count: int, what: str) -> np.ndarray:
    """``count`` finite numbers from a header; StudyError naming the tag and the image otherwise."""
    try:
        raw = ds.get(keyword, None)
        if raw is None or raw == "":
            values: list = []
        elif isinstance(raw, str | bytes | int | float):
            values = [raw]
        else:
            values = list(raw)
        numbers = np.array([float(v) for v in values], dtype=float)
    except Exception as exc:  # pydicom raises ValueError/TypeError/... for malformed values on access
        raise StudyError(f"{what}: {keyword} {tag} cannot be read ({exc}); correct the header or re-export "
                         "the series") from exc
    if numbers.size == 0:
        raise StudyError(f"{what} has no {keyword} {tag}; without it the image cannot be placed in space")
    if numbers.size != count or not np.all(np.isfinite(numbers)):
        raise StudyError(f"{what}: {keyword} {tag} is {values}; {count} finite numbers are needed. "
                         "Correct the header or re-export the series")
    return numbers


def _size(ds, what: str) -> tuple[int, int]:
    try:
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    except (TypeError, ValueError) as exc:
        raise StudyError(f"{what}: Rows/Columns cannot be read ({exc})") from exc
    if rows < 1 or cols < 1:
        raise StudyError(f"{what} has {rows} Rows and {cols} Columns; it holds no image")
    return rows, cols


def _orientation(ds, what: str) -> np.ndarray:
    values = _values(ds, "ImageOrientationPatient", "(0020,0037)", 6, what)
    row, col = values[:3], values[3:]
    norms = np.linalg.norm(row), np.linalg.norm(col)
    if abs(norms[0] - 1) > 1e-2 or abs(norms[1] - 1) > 1e-2 or abs(float(row @ col)) > 1e-2:
        raise StudyError(
            f"{what}: ImageOrientationPatient (0020,0037) is {values.tolist()}, not two perpendicular unit "
            "vectors, so the slice direction is unknown; correct the header or re-export the series"
        )
    return np.concatenate([row / norms[0], col / norms[1]])


def _spacing(ds, what: str) -> np.ndarray:
    values = _values(ds, "PixelSpacing", "(0028,0030)", 2, what)
    if np.any(values <= 0):
        raise StudyError(f"{what}: PixelSpacing (0028,0030) is {values.tolist()} mm; both distances must be "
                         "positive. Correct the header or re-export the series")
    return values


def _copies(headers: list, positions: np.ndarray, same_image: SameImage | None) -> list[tuple[int, int]]:
    """(copy, original) pairs: the same image at the same position, by SOPInstanceUID or by identical pixels."""
    pairs: list[tuple[int, int]] = []
    first_at: dict[tuple, int] = {}
    for i, ds in enumerate(headers):
        key = tuple(np.round(positions[i] / SAME_POSITION_MM).astype(np.int64))
        if key not in first_at:
            first_at[key] = i
            continue
        j = first_at[key]
        uid = str(ds.get("SOPInstanceUID", "") or "")
        if (uid and uid == str(headers[j].get("SOPInstanceUID", "") or "")) or (
                same_image is not None and same_image(i, j)):
            pairs.append((i, j))
    return pairs


def _refuse_same_position(distance: np.ndarray, order: np.ndarray, files: list[Path], kind: str,
                          label: str) -> None:
    """Several images at one position: 4D when every position has as many, else name the clashing files."""
    rounded = np.round(distance / SAME_POSITION_MM).astype(np.int64)
    _values_at, counts = np.unique(rounded, return_counts=True)
    if counts.min() == counts.max():
        raise StudyError(
            f"{kind} series {label} has {counts[0]} images at each of its {len(counts)} positions (4D: dynamic "
            "or gated); open one time frame exported as its own series"
        )
    steps = np.diff(distance[order])
    i = int(np.flatnonzero(steps < SAME_POSITION_MM)[0])
    a, b = sorted((files[order[i]], files[order[i + 1]]))
    raise StudyError(
        f"{kind} images {a.name} and {b.name} are at the same position ({distance[order[i]]:.2f} mm along the "
        f"slice normal) but are different images; a series holds one image per position. Remove the one "
        f"that does not belong (in {a.parent})"
    )


def place_slices(headers: list, files: list[Path], kind: str, label: str,
                 same_image: SameImage | None = None) -> Placement:
    """Check the headers of one series and place its images on a regular grid (see the module notes).

    ``same_image(i, j)`` tells whether images i and j at one position hold the same pixels (a copy under
    another SOPInstanceUID); without it only a repeated SOPInstanceUID marks a copy.
    """
    if len(headers) < 2:
        raise StudyError(f"{kind} series {label} has a single image (2D); a PET/CT study needs a 3D volume")
    what = [f"{kind} image {f.name}" for f in files]
    orientation = _orientation(headers[0], what[0])
    shape = _size(headers[0], what[0])
    pixel = _spacing(headers[0], what[0])
    for ds, name in zip(headers[1:], what[1:], strict=True):
        if not np.allclose(_orientation(ds, name), orientation, atol=1e-4) or _size(ds, name) != shape:
            raise StudyError(f"{kind} series {label} mixes image orientations or sizes ({name} differs from "
                             f"{files[0].name}); cannot stack it")
        if not np.allclose(_spacing(ds, name), pixel, rtol=1e-4, atol=1e-6):
            raise StudyError(f"{kind} series {label} mixes pixel spacings ({name} differs from "
                             f"{files[0].name}); cannot stack it")
    positions = np.array([_values(ds, "ImagePositionPatient", "(0020,0032)", 3, name)
                          for ds, name in zip(headers, what, strict=True)])
    copies = _copies(headers, positions, same_image)
    notes = []
    if copies:
        shown = ", ".join(f"{files[a].name} (same image as {files[b].name})" for a, b in copies[:3])
        notes.append(f"{plural(len(copies), kind + ' file')} {agree(len(copies), 'repeats', 'repeat')} an image already "
                     "read (same SOPInstanceUID or identical pixels at the same position) and "
                     f"{agree(len(copies), 'was', 'were')} skipped: {shown}"
                     f"{' ...' if len(copies) > 3 else ''}")
    keep = [i for i in range(len(headers)) if i not in {a for a, _b in copies}]
    if len(keep) < 2:
        raise StudyError(f"{kind} series {label} has a single image (2D); a PET/CT study needs a 3D volume")
    positions, kept_files = positions[keep], [files[i] for i in keep]
    row, col = orientation[:3], orientation[3:]
    normal = np.cross(row, col)
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    steps = np.diff(distance[order])
    if np.any(steps < SAME_POSITION_MM):
        _refuse_same_position(distance, order, kept_files, kind, label)
    sideways = positions[order] - positions[order[0]]
    sideways -= np.outer(sideways @ normal, normal)
    shift = np.linalg.norm(sideways, axis=1)
    if shift.max() > SHEAR_TOLERANCE * pixel.min():
        worst = int(np.argmax(shift))
        raise StudyError(
            f"{kind} series {label}: image {kept_files[order[worst]].name} is shifted {shift[worst]:.2f} mm "
            f"sideways from {kept_files[order[0]].name} (gantry tilt or a sheared series); the slices do not "
            "stack into one grid. Resample the series to an orthogonal grid (e.g. convert it with dcm2niix) "
            "and open that"
        )
    sorted_files = [kept_files[i] for i in order]
    index, spacing_z, intercept, grid_notes = _fit_grid(distance[order], sorted_files, kind, label)
    notes.extend(grid_notes)
    slots = np.full(int(index[-1]) + 1, -1, dtype=np.int64)
    slots[index] = np.arange(len(order))
    origin = positions[order[0]] + (intercept - distance[order[0]]) * normal
    geometry = SourceGeometry(
        size=(shape[1], shape[0], len(slots)),
        spacing=(float(pixel[1]), float(pixel[0]), float(spacing_z)),
        origin=tuple(float(v) for v in origin),
        direction=tuple(float(v) for v in np.column_stack([row, col, normal]).reshape(-1)),
    )
    return Placement([keep[i] for i in order], slots, geometry, notes)


def _fit_grid(distance: np.ndarray, files: list[Path], kind: str,
              label: str) -> tuple[np.ndarray, float, float, list[str]]:
    """(grid index per sorted image, spacing, position of index 0, notes); StudyError for irregular positions."""
    steps = np.diff(distance)
    base = float(steps.min())  # a slice apart: the median would be two when many images are missing
    whole = np.rint(steps / base).astype(np.int64)
    if np.any(whole < 1) or np.any(np.abs(steps / base - whole) > 2 * GRID_TOLERANCE):
        raise _irregular(steps, base, files, kind, label, int(np.argmax(np.abs(steps / base - np.maximum(whole, 1)))))
    index = np.concatenate([[0], np.cumsum(whole)])
    slope, intercept = np.polyfit(index.astype(float), distance, 1) if len(index) > 2 else (steps[0] / whole[0],
                                                                                            distance[0])
    slope, intercept = float(slope), float(intercept)
    residual = np.abs(distance - (intercept + slope * index))
    if residual.max() > GRID_TOLERANCE * slope:
        raise _irregular(steps, slope, files, kind, label, max(int(np.argmax(residual)) - 1, 0))
    notes = []
    if residual.max() > NOTE_TOLERANCE * slope:
        notes.append(f"{kind} slice positions deviate up to {residual.max():.2f} mm from a regular "
                     f"{slope:.2f} mm grid; each slice was placed at its grid position")
    gaps = np.flatnonzero(whole > 1)
    if gaps.size and int(whole.max()) - 1 > MAX_FILLED:
        i = int(np.argmax(whole))
        raise StudyError(
            f"{kind} series {label} lacks {whole[i] - 1} images between {files[i].name} and {files[i + 1].name} "
            f"({with_article(f'{steps[i]:.1f} mm gap')} in {slope:.2f} mm slices); more than {MAX_FILLED} missing slices in a row "
            "cannot be filled. Re-export the complete series"
        )
    return index, slope, intercept, notes


def _irregular(steps: np.ndarray, spacing: float, files: list[Path], kind: str, label: str, i: int) -> StudyError:
    return StudyError(
        f"{kind} series {label} is not evenly spaced: slices are {steps.min():.2f} to {steps.max():.2f} mm apart "
        f"(about {spacing:.2f} mm expected; {steps[i]:.2f} mm between {files[i].name} and {files[i + 1].name}), "
        "so its images cannot be placed on one grid. Re-export the series with regular slices, or resample it "
        "(e.g. convert it with dcm2niix) and open that"
    )


def fill_missing(data: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """(images, y, x) in sorted order -> (grid slices, y, x), missing slices linearly interpolated."""
    if np.all(slots >= 0):
        return data
    full = np.empty((len(slots), *data.shape[1:]), dtype=data.dtype)
    present = np.flatnonzero(slots >= 0)
    full[present] = data
    for z in np.flatnonzero(slots < 0):
        below = present[present < z].max()
        above = present[present > z].min()
        weight = (z - below) / (above - below)
        value = (1 - weight) * full[below].astype(np.float64) + weight * full[above].astype(np.float64)
        full[z] = np.rint(value) if np.issubdtype(data.dtype, np.integer) else value
    return full


def missing_note(placement: Placement, numbers: list, labels: list[str], kind: str) -> str:
    """Warning naming the missing images (their InstanceNumbers when the neighbours' numbers tell them).

    ``numbers`` and ``labels`` ("image 57" or the file name) follow the sorted images, like the slots.
    """
    slots = placement.slots
    names = []
    for z in placement.filled:
        below, above = slots[:z][slots[:z] >= 0][-1], slots[z + 1:][slots[z + 1:] >= 0][0]
        number = infer_number(numbers, slots, z)
        what = f"image {number}" if number is not None else "one slice"
        names.append(f"{what} (between {labels[below]} and {labels[above]})")
    shown = "; ".join(names[:4]) + (" ..." if len(names) > 4 else "")
    return (f"{kind}: {plural(len(names), 'slice')} missing from the series: {shown}; filled by linear "
            "interpolation from the neighbouring slices, so values there are estimates")


def infer_number(numbers: list, slots: np.ndarray, z: int) -> int | None:
    """InstanceNumber a missing slice had, when its neighbours' numbers leave exactly the room for it."""
    present = np.flatnonzero(slots >= 0)
    below, above = present[present < z].max(), present[present > z].min()
    try:
        low, high = int(numbers[slots[below]]), int(numbers[slots[above]])
    except (TypeError, ValueError):
        return None
    if abs(high - low) != above - below:
        return None
    return low + (z - below) * (1 if high > low else -1)
