"""Where inside its site a lesion sits, in the words a reader uses: hepatic segment, renal pole, lung segment,
mediastinal station, cervical level, vertebral level of a para-aortic node, part of the ilium or pancreas.

The words are read off the lesion's position within its host structure on the phantom's site map, so a
sentence that says "segment VII" or "lower pole" is true of the lesion it describes. They are what tells two
lesions at one site apart in a report ("lesion in hepatic segment VII" vs "segment III"); two lesions with
the same words get a relative qualifier ("the more cranial of two").
"""

from __future__ import annotations

import numpy as np

from .labels import L
from .shapes import Grid

# site -> host label per side ("" for unpaired sites)
_HOST: dict[str, dict[str, str]] = {
    "liver": {"": "liver"},
    "kidney": {"right": "kidney_r", "left": "kidney_l"},
    "lung_upper_lobe": {"right": "lung_rul", "left": "lung_lul"},
    "lung_lower_lobe": {"right": "lung_rll", "left": "lung_lll"},
    "mediastinal_node": {"": "node_mediastinal"},
    "cervical_node": {"right": "node_cervical_r", "left": "node_cervical_l"},
    "iliac_bone": {"right": "pelvic_bone", "left": "pelvic_bone"},
    "pancreas": {"": "pancreas"},
}


def _fractions(site_map: np.ndarray, grid: Grid, label: str, side: str, center_mm) -> tuple[float, float, float]:
    """Position of ``center_mm`` within the bounding box of ``label`` (on ``side`` of the midline for labels
    shared by both sides) as fractions (z from bottom to top, y from front to back, x from the patient's
    right to left)."""
    zax, yax, xax = grid.axes()
    inside = site_map == L[label]
    if side == "right":
        inside &= (xax < 0)[None, None, :]
    elif side == "left":
        inside &= (xax > 0)[None, None, :]
    zi, yi, xi = (np.flatnonzero(inside.any(axis=other)) for other in ((1, 2), (0, 2), (0, 1)))
    if not (zi.size and yi.size and xi.size):
        return 0.5, 0.5, 0.5

    def frac(value: float, axis: np.ndarray, idx: np.ndarray) -> float:
        lo, hi = float(axis[idx[0]]), float(axis[idx[-1]])
        return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0)) if hi > lo else 0.5

    return frac(center_mm[0], zax, zi), frac(center_mm[1], yax, yi), frac(center_mm[2], xax, xi)


def _liver_segment(fz: float, fy: float, fx: float) -> str:
    """Couinaud segment from the position in the liver (left lateral II/III, medial IV, right V-VIII)."""
    if fx > 0.72:
        return "II" if fz > 0.5 else "III"
    if fx > 0.55:
        return "IV"
    if fy < 0.5:
        return "VIII" if fz > 0.5 else "V"
    return "VII" if fz > 0.5 else "VI"


def _by_position(site: str, fz: float, fy: float, fx: float, x_mm: float) -> str:
    if site == "liver":
        return _liver_segment(fz, fy, fx)
    if site == "kidney":
        return "upper pole" if fz > 0.62 else ("lower pole" if fz < 0.38 else "interpolar region")
    if site == "lung_upper_lobe":
        return "apical segment" if fz > 0.6 else ("anterior segment" if fy < 0.5 else "posterior segment")
    if site == "lung_lower_lobe":
        return "superior segment" if fz > 0.6 else ("posterior basal segment" if fy > 0.5 else "lateral basal segment")
    if site == "mediastinal_node":
        if fz > 0.62:
            return "upper paratracheal"
        if fz > 0.38:
            return "aortopulmonary window" if x_mm > 8 else "lower paratracheal"
        return "subcarinal"
    if site == "cervical_node":
        return "II" if fz > 0.62 else ("III" if fz > 0.3 else "IV")
    if site == "iliac_bone":
        return "iliac wing" if fz > 0.55 else ("supra-acetabular" if fz > 0.3 else "acetabular")
    if site == "pancreas":
        # head to the patient's right of the body, tail to the left
        return "head" if fx < 0.35 else ("body" if fx < 0.7 else "tail")
    return ""


def vertebral_level(z_mm: float, levels: dict[str, tuple[float, float]]) -> str:
    """The vertebral level whose z-range holds ``z_mm`` (nearest level when between two), or ""."""
    if not levels:
        return ""
    for name, (z0, z1) in levels.items():
        if z0 <= z_mm <= z1:
            return name
    return min(levels, key=lambda k: min(abs(z_mm - levels[k][0]), abs(z_mm - levels[k][1])))


def subsite(site: str, side: str, center_mm, site_map: np.ndarray, grid: Grid,
            levels: dict[str, tuple[float, float]], level: str = "") -> str:
    """The sub-site words for a lesion at ``center_mm`` (zyx LPS mm), or "" for sites described without them.

    Vertebrae and ribs use their vertebral level; para-aortic (retroperitoneal) nodes the level they lie at.
    """
    if site == "vertebra":
        return level
    if site == "rib":  # ribs are named by the thoracic level they join ("the sixth rib")
        return level if level.startswith("T") else ""
    if site == "retroperitoneal_node":
        return vertebral_level(float(center_mm[0]), levels)
    hosts = _HOST.get(site)
    if not hosts:
        return ""
    label = hosts.get(side, hosts.get("", ""))
    if not label:
        return ""
    fz, fy, fx = _fractions(site_map, grid, label, side if site == "iliac_bone" else "", center_mm)
    return _by_position(site, fz, fy, fx, float(center_mm[2]))


_ORDINAL = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh")


def relative_qualifiers(lesions) -> dict[int, str]:
    """Lesion id -> "the more cranial of two" (and the like) for lesions that share site, side and sub-site.

    Such lesions are told apart by their height, the way a reader would ("the lower of two left iliac bone
    lesions"); lesions that differ in any of the three need no qualifier.
    """
    groups: dict[tuple[str, str, str], list] = {}
    for les in lesions:
        groups.setdefault((les.site, les.laterality, les.subsite), []).append(les)
    out: dict[int, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        ordered = sorted(members, key=lambda les: -les.center_mm[0])  # head first
        n = len(ordered)
        for rank, les in enumerate(ordered):
            if n == 2:
                out[les.id] = "the more cranial of two" if rank == 0 else "the more caudal of two"
            else:
                count = {3: "three", 4: "four", 5: "five"}.get(n, str(n))
                word = "most cranial" if rank == 0 else (
                    "most caudal" if rank == n - 1 else f"{_ORDINAL[rank]} most cranial")
                out[les.id] = f"the {word} of {count}"
    return out


__all__ = ["relative_qualifiers", "subsite", "vertebral_level"]
