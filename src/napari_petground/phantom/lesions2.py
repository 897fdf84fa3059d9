"""Lesions of the version-2 generator: any fine site of the vocabulary that the exam's anatomy holds.

Planning draws fine sites (phantom.sites2.HELD) whose structures are in the field of view, with every coarse
site about equally likely whatever its number of sub-sites (a coarse site's weight is spread over its
sub-sites, but not thinner than the square root of their number allows), tracer-typical sites more often,
and the same confusable sets as version 1: the same site on both sides (twins), two lesions in one coarse
site. Placement is phantom.lesions.place_lesions with a ``Resolver`` that knows the version-2 labels and the
position rules of sub-sites.
"""

from __future__ import annotations

import numpy as np

from ..errors import PhantomError
from ..report.lexicon import SITE_BY_KEY
from .labels import LUNG, SOFT, L
from .labels2 import L2, LABEL2_BY_VALUE
from .lesions import LesionPlan
from .sites2 import HELD, apply_rule, fractions, frame_side, host_labels, rule_of

# coarse site -> diameter range (mm); nodes not listed: (8, 30)
_SIZES: dict[str, tuple[float, float]] = {
    "brain": (10, 35), "pituitary": (8, 14), "thyroid": (8, 22), "parotid": (10, 30), "submandibular_gland": (10, 22),
    "pharynx": (10, 26), "larynx": (10, 24), "orbit": (8, 16), "lung_upper_lobe": (6, 30), "lung_middle_lobe": (6, 22),
    "lung_lower_lobe": (6, 30), "pleura": (8, 18), "pericardium": (8, 16), "breast": (10, 36), "esophagus": (12, 28),
    "liver": (10, 45), "gallbladder": (10, 22), "pancreas": (12, 28), "spleen": (10, 32), "adrenal": (10, 28),
    "kidney": (15, 36), "stomach": (14, 36), "small_bowel": (12, 28), "colon": (14, 36), "peritoneum": (8, 22),
    "prostate": (8, 22), "seminal_vesicle": (8, 16), "bladder": (10, 22), "uterus": (14, 40), "ovary": (14, 36),
    "testis": (10, 24), "rectum": (14, 34), "anal_canal": (10, 22), "skull": (10, 28), "vertebra": (10, 24),
    "sacrum": (10, 30), "coccyx": (8, 16), "rib": (8, 16), "sternum": (10, 22), "clavicle": (8, 16),
    "scapula": (10, 28), "humerus": (10, 26), "radius": (8, 14), "ulna": (8, 14), "hand_bones": (8, 14),
    "iliac_bone": (10, 36), "femur": (10, 26), "tibia": (8, 20), "fibula": (8, 14), "foot_bones": (8, 16),
    "skin": (6, 14), "subcutaneous_tissue": (8, 24), "muscle": (14, 40), "upper_arm": (14, 40), "forearm": (12, 30),
    "hand": (10, 20), "thigh": (16, 60), "lower_leg": (14, 45), "foot": (10, 24), "chest_wall": (14, 36),
    "abdominal_wall": (14, 36), "heart": (12, 28), "renal_pelvis": (10, 18), "omentum": (10, 36),
}
_SMALL_NODES = ("retropharyngeal_node", "epitrochlear_node", "popliteal_node", "internal_mammary_node",
                "retrocrural_node", "cardiophrenic_node", "celiac_node", "gastrohepatic_node", "peripancreatic_node",
                "mesorectal_node", "presacral_node")
_TRACER_FAVOURS: dict[str, dict[str, float]] = {  # coarse site -> weight, per tracer (others weigh 1)
    "PSMA": {"prostate": 4, "internal_iliac_node": 3, "external_iliac_node": 3, "common_iliac_node": 2,
             "retroperitoneal_node": 2, "vertebra": 3, "rib": 2, "iliac_bone": 2.5, "sacrum": 1.5},
    "FLUCICLOVINE": {"prostate": 4, "internal_iliac_node": 3, "external_iliac_node": 3, "common_iliac_node": 2,
                     "vertebra": 2, "iliac_bone": 2},
    "DOTATATE": {"liver": 4, "mesenteric_node": 3, "pancreas": 2, "small_bowel": 3, "retroperitoneal_node": 1.5},
    "FDG": {"lung_upper_lobe": 2, "lung_lower_lobe": 2, "liver": 2, "vertebra": 2, "mediastinal_node": 2},
}
BONE2 = tuple(v for v, lab in LABEL2_BY_VALUE.items() if lab.group == "bone")
_SOFT2 = (*SOFT, L2["psoas"], L2["paraspinal"], L2["gluteal"], L2["pectoralis"], L2["peritoneum"], L2["omentum"],
          L2["pericardium"], *(v for v, lab in LABEL2_BY_VALUE.items() if lab.key.startswith("limb_")))
_BOWEL = tuple(v for v, lab in LABEL2_BY_VALUE.items()
               if lab.key.startswith(("colon", "bowel_", "small_bowel")) or lab.key == "duodenum")
_CHEST = ("lung_upper_lobe", "lung_middle_lobe", "lung_lower_lobe", "pleura", "hilar_node", "mediastinal_node",
          "cardiophrenic_node", "internal_mammary_node", "chest_wall", "rib", "esophagus", "pericardium")


def _coarse(site: str) -> str:
    return SITE_BY_KEY[site].coarse


def _diameter(site: str, rng: np.random.Generator) -> float:
    lo, hi = _SIZES.get(_coarse(site), _SIZES.get(site, (8, 18) if site in _SMALL_NODES else (8, 30)))
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _suv(rng: np.random.Generator, tracer: str) -> float:
    lo, hi = (2.5, 14.0) if tracer == "FLUCICLOVINE" else (3.0, 26.0)
    return float(min(30.0, np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def present_sides(site_map: np.ndarray, grid) -> dict[str, set[int]]:
    """Site-map values present right and left of the midline (more than 5 mm off it)."""
    xax = grid.axes()[2]
    out = {}
    for side, keep in (("right", xax < -5), ("left", xax > 5)):
        counts = np.bincount(site_map[:, :, keep].ravel(), minlength=256)
        out[side] = {int(v) for v in np.flatnonzero(counts)}
    return out


def _sides(site: str, present: dict[str, set[int]]) -> list[str]:
    """The sides on which a paired site's structures are present ([""] for an unpaired site)."""
    if not SITE_BY_KEY[site].lateral:
        return [""] if any(v in present["right"] | present["left"] for v in host_labels(site, "right")) else []
    return [side for side in ("right", "left") if any(v in present[side] for v in host_labels(site, side))]


def site_weights(tracer: str, sex: str, present: dict[str, set[int]]) -> dict[str, float]:
    """Weight of every fine site the exam can hold (its structures are in ``present``, the site-map values
    right and left of the midline)."""
    held = [s for s in HELD if _sides(s, present)]
    body = "M" if sex == "M" else "F"
    held = [s for s in held if SITE_BY_KEY[s].sex in ("", body)]  # the vocabulary says which sites one sex has
    by_coarse: dict[str, list[str]] = {}
    for s in held:
        by_coarse.setdefault(_coarse(s), []).append(s)
    favours = _TRACER_FAVOURS.get(tracer, {})
    out = {}
    for coarse, members in by_coarse.items():
        weight = favours.get(coarse, 1.0) * np.sqrt(len(members))
        for s in members:
            out[s] = weight / len(members)
    return out


def plan_lesions2(rng: np.random.Generator, tracer: str, n: int | None, sex: str, confusable: bool,
                  liver_suv: float, present: dict[str, set[int]]) -> list[LesionPlan]:
    """Draw 1-6 lesions (or ``n``) at fine sites, with sides, sizes, uptake and confusable sets."""
    n = int(rng.integers(1, 7)) if n is None else int(n)
    if not 0 <= n <= 12:
        raise PhantomError(f"n_lesions must be between 0 and 12, got {n}")
    weights = site_weights(tracer, sex, present)
    if not weights:
        return []
    sites = list(weights)
    p = np.array([weights[s] for s in sites])
    p /= p.sum()

    def side_of(site: str) -> str:
        sides = _sides(site, present)
        return str(rng.choice(sides)) if SITE_BY_KEY[site].lateral else ""

    plans: list[LesionPlan] = []
    if confusable and n >= 2 and rng.random() < 0.75:
        if rng.random() < 0.6:  # the same site on both sides
            lateral = [s for s in sites if len(_sides(s, present)) == 2]
            lp = np.array([weights[s] for s in lateral])
            site = str(rng.choice(lateral, p=lp / lp.sum()))
            d, suv = _diameter(site, rng), _suv(rng, tracer)
            for side in ("right", "left"):
                plans.append(LesionPlan(site, side, d * float(rng.uniform(0.8, 1.2)),
                                        suv * float(rng.uniform(0.75, 1.3)), "twin", 1))
        else:  # two lesions in one coarse site (its sub-sites, or one site at two levels)
            site = str(rng.choice(sites, p=p))
            members = [s for s in sites if _coarse(s) == _coarse(site)]
            other = str(rng.choice(members))
            side = side_of(site)
            for s in (site, other):
                on = side if side in _sides(s, present) else side_of(s)
                plans.append(LesionPlan(s, on if SITE_BY_KEY[s].lateral else "", _diameter(s, rng),
                                        _suv(rng, tracer), "same_organ", 1))
    while len(plans) < n:
        site = str(rng.choice(sites, p=p))
        plans.append(LesionPlan(site, side_of(site), _diameter(site, rng), _suv(rng, tracer)))
    plans = plans[:n]
    if plans and rng.random() < 0.35:  # a low-uptake lesion close to its background in about a third of exams
        target = next((pl for pl in plans if pl.kind == "typical"), plans[-1])
        target.true_suv = float(max(2.0, (liver_suv if _coarse(target.site) == "liver" else 1.2)
                                    * rng.uniform(1.35, 1.8)))
        if target.kind == "typical":
            target.kind = "low_uptake"
    for pl in plans:
        pl.lytic = bool(rng.random() < 0.6)
    return plans


class Resolver:
    """What phantom.lesions.place_lesions needs to place a version-2 lesion: its labels, the position rule
    of its sub-site, and the labels it may and may not overlap."""

    def __init__(self, site_map: np.ndarray, grid, levels: dict) -> None:
        self.site_map, self.grid, self.levels = site_map, grid, levels

    def targets(self, pl: LesionPlan) -> tuple[int, ...]:
        return host_labels(pl.site, pl.laterality)

    def keep(self, pl: LesionPlan, points: np.ndarray) -> np.ndarray:
        """Which candidate centres (zyx mm) lie in the lesion's sub-site."""
        rule = rule_of(pl.site)
        if not rule or not len(points):
            return np.ones(len(points), bool)
        labels = self.targets(pl)
        f = fractions(self.site_map, self.grid, labels, frame_side(pl.site, pl.laterality), points)
        out = np.zeros(len(points), bool)
        for side, on_side in (("right", points[:, 2] < 0), ("left", points[:, 2] >= 0)):
            if on_side.any():
                out[on_side] = apply_rule(rule, side, f[on_side], points[on_side], self.levels) == pl.site
        return out

    def family(self, pl: LesionPlan) -> tuple[int, ...]:
        """Labels of every fine site sharing the lesion's coarse site (a lesion may reach its neighbours)."""
        coarse = _coarse(pl.site)
        out: list[int] = []
        for s in HELD:
            if _coarse(s) == coarse:
                for side in ("right", "left"):
                    out += host_labels(s, side)
        return tuple(set(out))

    def allowed(self, pl: LesionPlan, targets: tuple[int, ...]) -> np.ndarray:
        lut = np.zeros(256, bool)
        lut[list(targets) + list(self.family(pl)) + list(_SOFT2)] = True
        coarse = _coarse(pl.site)
        if coarse in _CHEST:
            lut[[*LUNG, L2["pleura"]]] = True
        if str(SITE_BY_KEY[pl.site].region) == "bone":
            lut[list(BONE2)] = True
        if SITE_BY_KEY[pl.site].is_node:
            lut[[L["vein"], L["artery"], L["aorta"], *_BOWEL]] = True
        lut[0] = pl.site == "skin"  # a cutaneous nodule may bulge out of the body
        return lut

    def forbidden(self, pl: LesionPlan, targets: tuple[int, ...]) -> np.ndarray:
        lut = np.zeros(256, bool)
        bone_site = str(SITE_BY_KEY[pl.site].region) == "bone"
        for value, label in LABEL2_BY_VALUE.items():
            if label.group in ("organ", "airway") or (label.group == "bone" and not bone_site):
                lut[value] = True
        lut[list(targets) + list(self.family(pl))] = False
        lut[0] = pl.site != "skin"
        return lut


__all__ = ["Resolver", "plan_lesions2", "present_sides", "site_weights"]
