"""The one preprocessing shared by training and inference, and its inverse back to the PET grid.

study (PET in SUV, CT in HU on any grid) -> CT on the PET grid -> body crop (PET > 0.2 SUV or CT > -500 HU,
plus a margin) -> anti-aliased resampling to the target spacing -> PET window 0..10 SUV and CT window
-150..250 HU scaled to 0..1 -> optional coordinate channels (x relative to the body box centre, left positive)
-> optionally the PET peak channel (the hottest SUV within about one model voxel, same window) -> zero padding
to a multiple of the network's total stride. ``Prepared.to_pet_grid`` maps a probability map
from that model grid back onto the study's PET grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..study.resample import Grid, resample_nearest, resample_to_grid
from ..study.volume import Volume
from .config import PreprocessConfig


@dataclass
class Prepared:
    """Network input for one exam and the geometry needed to map outputs back."""

    image: np.ndarray  # float32 (C, Z, Y, X): PET, CT, coordinate channels
    spacing: tuple[float, float, float]  # model grid spacing (z, y, x) mm
    origin: tuple[float, float, float]  # model grid origin (z, y, x) mm, of the padded array
    valid_shape: tuple[int, int, int]  # part of the array covered by the resampled crop (rest is padding)
    pet_grid: Grid  # the study's PET grid
    body_centre_mm: tuple[float, float, float]  # centre of the body crop: origin of the coordinate channels
    crop: tuple[slice, slice, slice]  # body crop on the PET grid
    frame: object | None = None  # anatomy.frame.AnatomicalFrame when the coordinates are anatomical

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.image.shape[1:])  # type: ignore[return-value]

    def model_grid(self) -> Grid:
        return Grid(self.shape, self.spacing, self.origin)

    def to_pet_grid(self, values: np.ndarray, *, interpolation: str = "linear") -> np.ndarray:
        """A (Z, Y, X) map on the model grid resampled onto the study's PET grid (0 outside the crop)."""
        if interpolation == "nearest":
            return resample_nearest(np.asarray(values, np.float32), self.model_grid(), self.pet_grid, fill=0.0)
        volume = Volume(np.asarray(values, np.float32), self.spacing, self.origin)
        return resample_to_grid(volume, self.pet_grid, interpolation=interpolation, fill=0.0).data

    def from_pet_grid(self, values: np.ndarray) -> np.ndarray:
        """A map on the PET grid (e.g. a lesion mask) on the model grid, as the covered fraction per voxel."""
        return _to_model_grid(np.asarray(values, np.float32), self)


def ct_on_pet_grid(pet: Volume, ct: Volume | None) -> Volume | None:
    """CT resampled onto the PET grid (air outside the CT), or the CT itself when it already is on it."""
    if ct is None or ct.same_grid(pet):
        return ct
    return resample_to_grid(ct, pet, interpolation="linear", fill=-1000.0, dtype=np.float32)


def body_box(pet: np.ndarray, ct: np.ndarray | None, config: PreprocessConfig,
             spacing: tuple[float, float, float]) -> tuple[slice, slice, slice]:
    """Bounding box of the body (PET above threshold or CT above threshold) plus the margin, on the PET grid."""
    body = pet > config.body_threshold_suv
    if ct is not None:
        body |= ct > config.body_threshold_hu
    if not body.any():
        return tuple(slice(0, n) for n in pet.shape)  # type: ignore[return-value]
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        profile = np.flatnonzero(body.any(axis=other))
        margin = int(round(config.body_margin_mm / spacing[axis]))
        out.append(slice(max(0, int(profile[0]) - margin), min(pet.shape[axis], int(profile[-1]) + 1 + margin)))
    return tuple(out)  # type: ignore[return-value]


def preprocess(pet: Volume, ct: Volume | None, config: PreprocessConfig, total_stride: int) -> Prepared:
    """Network input for an exam: PET in SUV, CT in HU on any grid (or None)."""
    ct = ct_on_pet_grid(pet, ct)
    pet_data = np.nan_to_num(np.asarray(pet.data, np.float32), nan=0.0)
    ct_data = None if ct is None else np.nan_to_num(np.asarray(ct.data, np.float32), nan=-1000.0)
    crop = body_box(pet_data, ct_data, config, pet.spacing)
    start = np.array([s.start for s in crop], float)
    crop_origin = tuple(np.asarray(pet.origin) + start * np.asarray(pet.spacing))
    pet_crop = Volume(pet_data[crop], pet.spacing, crop_origin)
    target = _target_grid(pet_crop, config.spacing_mm)
    pet_model = _resample_smooth(pet_crop, target, fill=0.0)
    lo, hi = config.suv_clip
    channels = [np.clip((pet_model - lo) / (hi - lo), 0.0, 1.0)]
    if ct_data is not None:
        ct_model = _resample_smooth(Volume(ct_data[crop], pet.spacing, crop_origin), target, fill=-1000.0)
        lo, hi = config.ct_clip
        channels.append(np.clip((ct_model - lo) / (hi - lo), 0.0, 1.0))
    else:
        channels.append(np.zeros_like(channels[0]))
    stop = start + np.array([s.stop - s.start for s in crop], float)
    centre = np.asarray(pet.origin) + (start + stop - 1) / 2.0 * np.asarray(pet.spacing)
    valid = target.shape
    padded = tuple(int(-(-n // total_stride) * total_stride) for n in valid)
    image = np.zeros((config.in_channels, *padded), np.float32)
    for c, data in enumerate(channels):
        image[c, : valid[0], : valid[1], : valid[2]] = data
    if config.pet_peak_channel:
        lo, hi = config.suv_clip
        peak = _resample_peak(pet_crop, target)
        image[-1, : valid[0], : valid[1], : valid[2]] = np.clip((peak - lo) / (hi - lo), 0.0, 1.0)
    axes = [target.origin[a] + np.arange(padded[a]) * target.spacing[a] for a in range(3)]
    box = [((axes[a] - centre[a]) / config.coord_scale_mm).astype(np.float32) for a in range(3)]
    frame = None
    if config.coord_frame == "anatomy":
        from ..anatomy.frame import AnatomicalFrame

        frame = AnatomicalFrame.of(ct, pet)
        lateral, posterior, body_axis = frame.channels(*axes, fallback_z=box[0])
        values = {"x": lateral, "y": posterior, "z": body_axis}
    else:
        values = {"x": box[2][None, None, :], "y": box[1][None, :, None], "z": box[0][:, None, None]}
    for c, name in enumerate(config.coord_channels, start=2):
        image[c] = np.broadcast_to(values[name], padded)
    return Prepared(image, target.spacing, target.origin, valid, Grid.of(pet),
                    tuple(float(v) for v in centre), crop, frame)  # type: ignore[arg-type]


def _target_grid(volume: Volume, spacing: tuple[float, float, float]) -> Grid:
    extent = np.asarray(volume.shape) * np.asarray(volume.spacing)
    shape = tuple(int(max(1, round(e / s))) for e, s in zip(extent, spacing, strict=True))
    edge = np.asarray(volume.origin) - np.asarray(volume.spacing) / 2.0
    origin = tuple(float(v) for v in edge + np.asarray(spacing) / 2.0)
    return Grid(shape, tuple(float(s) for s in spacing), origin)  # type: ignore[arg-type]


def _resample_smooth(volume: Volume, grid: Grid, fill: float) -> np.ndarray:
    """Resample with a Gaussian pre-filter where the grid gets coarser, so small hot spots are averaged, not missed."""
    from scipy.ndimage import gaussian_filter

    factor = np.asarray(grid.spacing) / np.asarray(volume.spacing)
    sigma = np.where(factor > 1.0, (factor - 1.0) / 2.0, 0.0)
    data = volume.data.astype(np.float32)
    if np.any(sigma > 0):
        data = gaussian_filter(data, sigma, mode="nearest")
    return resample_to_grid(Volume(data, volume.spacing, volume.origin), grid, interpolation="linear", fill=fill).data


def _resample_peak(volume: Volume, grid: Grid) -> np.ndarray:
    """The maximum over a window of about one target voxel around each target voxel centre.

    On an 8 mm grid the averaged PET channel drops a 10 mm lesion's peak towards its surroundings; this
    channel keeps it, so the network still sees how hot the lesion is.
    """
    from scipy.ndimage import maximum_filter

    factor = np.asarray(grid.spacing) / np.asarray(volume.spacing)
    size = tuple(int(2 * np.floor(f / 2.0) + 1) if f > 1.0 else 1 for f in factor)
    data = volume.data.astype(np.float32)
    if any(n > 1 for n in size):
        data = maximum_filter(data, size=size, mode="nearest")
    return resample_to_grid(Volume(data, volume.spacing, volume.origin), grid, interpolation="nearest",
                            fill=0.0).data


def _to_model_grid(values: np.ndarray, prepared: Prepared) -> np.ndarray:
    crop = prepared.crop
    start = np.array([s.start for s in crop], float)
    pet_grid = prepared.pet_grid
    crop_origin = tuple(np.asarray(pet_grid.origin) + start * np.asarray(pet_grid.spacing))
    valid = prepared.valid_shape
    grid = Grid(valid, prepared.spacing, prepared.origin)
    data = _resample_smooth(Volume(values[crop], pet_grid.spacing, crop_origin), grid, fill=0.0)
    out = np.zeros(prepared.shape, np.float32)
    out[: valid[0], : valid[1], : valid[2]] = data
    return out
