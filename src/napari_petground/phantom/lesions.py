"""Lesions: which sites an exam gets, where they sit, and what a reader would measure on them.

Planning (sites, sides, sizes, uptake, confusable sets) uses only the random generator; placement needs
the site map, so a lesion lands inside its named structure on the actual grid. Truth values that a report
states (SUVmax, image number) are measured on the simulated PET inside the lesion's mask.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import PhantomError
from ..report.lexicon import SITE_BY_KEY
from .labels import BONE, LABEL_BY_VALUE, LUNG, SITE_TARGETS, SOFT, L
from .labels2 import LABEL2_BY_VALUE
from .shapes import Grid, occupancy
from .subsites import relative_qualifiers, subsite

# diameter range (mm) per site
_SIZES: dict[str, tuple[float, float]] = {
    "lung_upper_lobe": (6, 35), "lung_middle_lobe": (6, 25), "lung_lower_lobe": (6, 35), "liver": (10, 60),
    "spleen": (10, 35), "pancreas": (12, 32), "adrenal": (10, 32), "kidney": (15, 40), "thyroid": (8, 22),
    "breast": (10, 40), "prostate": (8, 24), "vertebra": (10, 26), "rib": (8, 16), "iliac_bone": (10, 40),
    "sacrum": (10, 34), "femur": (10, 26), "mediastinal_node": (10, 50), "retroperitoneal_node": (10, 50),
    "mesenteric_node": (10, 40), "hilar_node": (8, 30),
}
_NODE_SIZE = (8, 34)

# relative site frequencies per tracer
_SITE_WEIGHTS: dict[str, dict[str, float]] = {
    "FDG": {"cervical_node": 2, "supraclavicular_node": 2, "axillary_node": 2, "mediastinal_node": 3,
            "hilar_node": 3, "lung_upper_lobe": 3, "lung_middle_lobe": 1, "lung_lower_lobe": 2, "thyroid": 0.5,
            "breast": 1, "liver": 3, "spleen": 1, "pancreas": 1, "adrenal": 1.5, "kidney": 0.5,
            "retroperitoneal_node": 2, "mesenteric_node": 1, "common_iliac_node": 1.5, "external_iliac_node": 1.5,
            "internal_iliac_node": 1, "inguinal_node": 1.5, "vertebra": 2, "rib": 1.5, "iliac_bone": 1.5,
            "sacrum": 0.7, "femur": 1},
    "PSMA": {"prostate": 4, "internal_iliac_node": 3, "external_iliac_node": 3, "common_iliac_node": 2,
             "retroperitoneal_node": 2, "inguinal_node": 0.5, "mediastinal_node": 0.7, "supraclavicular_node": 0.5,
             "vertebra": 3, "rib": 2, "iliac_bone": 2.5, "sacrum": 1.5, "femur": 1.5, "liver": 0.4,
             "lung_lower_lobe": 0.5},
    "DOTATATE": {"liver": 5, "mesenteric_node": 3, "pancreas": 2, "retroperitoneal_node": 1.5, "vertebra": 1.5,
                 "iliac_bone": 1, "mediastinal_node": 0.6, "lung_lower_lobe": 0.5, "adrenal": 0.5,
                 "sacrum": 0.5, "femur": 0.5},
    "FLUCICLOVINE": {"prostate": 4, "internal_iliac_node": 3, "external_iliac_node": 3, "common_iliac_node": 2,
                     "retroperitoneal_node": 1.5, "inguinal_node": 0.5, "vertebra": 2, "iliac_bone": 2,
                     "sacrum": 1, "femur": 1, "rib": 1},
}
# sites that can hold two lesions at different levels ("same organ" confusable set)
_MULTI = ("liver", "vertebra", "lung_upper_lobe", "lung_lower_lobe", "rib", "retroperitoneal_node",
          "iliac_bone", "mediastinal_node", "kidney")


@dataclass
class LesionPlan:
    site: str
    laterality: str
    diameter_mm: float
    true_suv: float
    kind: str = "typical"  # typical | low_uptake | twin | same_organ
    group: int | None = None
    lytic: bool = True


@dataclass
class LesionTruth:
    """One simulated lesion and what a reader would measure on it."""

    id: int
    site: str  # key of report.lexicon.SITES
    laterality: str  # "left", "right" or "" (midline / unpaired organ)
    center_mm: tuple[float, float, float]  # zyx LPS
    diameter_mm: float
    suvmax: float  # measured on the simulated PET inside the mask
    image_number: int  # image number of the slice holding the SUVmax voxel
    volume_ml: float  # mask voxels × voxel volume
    true_suv: float = 0.0  # uptake before blur and noise
    radii_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    peak_index: tuple[int, int, int] = (0, 0, 0)  # PET (z, y, x) index of the SUVmax voxel
    region: str = ""  # lexicon region
    host: str = ""  # site-map label key holding the centre
    level: str = ""  # vertebral level (spine lesions)
    kind: str = "typical"
    group: int | None = None  # confusable set shared by twins / same-organ pairs
    lytic: bool = True  # bone lesions: lytic (soft tissue) or sclerotic on CT
    background_suv: float = 0.0  # mean SUV of a shell around the lesion
    subsite: str = ""  # words for where in its site it sits: hepatic segment, renal pole, level ... (subsites)
    same_site: int = 0  # how many other lesions of the exam share its site and side
    qualifier: str = ""  # "the more cranial of two" when another lesion shares site, side and sub-site

    @property
    def low_uptake(self) -> bool:
        return self.kind == "low_uptake" or self.suvmax < 1.5 * max(self.background_suv, 1e-6)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> LesionTruth:
        row = {k: v for k, v in row.items() if k in cls.__dataclass_fields__}
        for key in ("center_mm", "radii_mm", "peak_index"):
            if key in row:
                row[key] = tuple(row[key])
        return cls(**row)


def _diameter(site: str, rng: np.random.Generator) -> float:
    lo, hi = _SIZES.get(site, _NODE_SIZE)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _suv(rng: np.random.Generator, tracer: str) -> float:
    lo, hi = (2.5, 14.0) if tracer == "FLUCICLOVINE" else (3.0, 26.0)
    return float(min(30.0, np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def plan_lesions(rng: np.random.Generator, tracer: str, n: int | None, sex: str, confusable: bool,
                 liver_suv: float) -> list[LesionPlan]:
    """Draw 1–6 lesions (or ``n``) with sites, sides, sizes and uptake, incl. confusable sets."""
    n = int(rng.integers(1, 7)) if n is None else int(n)
    if not 0 <= n <= 12:
        raise PhantomError(f"n_lesions must be between 0 and 12, got {n}")
    weights = dict(_SITE_WEIGHTS[tracer])
    if sex != "M":
        weights.pop("prostate", None)
        if tracer == "FDG":
            weights["breast"] = 2.5
    if sex == "M" and tracer == "FDG":
        weights["prostate"] = 0.3
    sites = list(weights)
    p = np.array([weights[s] for s in sites], float)
    p /= p.sum()

    def side_of(site: str) -> str:
        return str(rng.choice(["right", "left"])) if SITE_BY_KEY[site].lateral else ""

    plans: list[LesionPlan] = []
    group = 0
    if confusable and n >= 2 and rng.random() < 0.75:
        lateral = [s for s in sites if SITE_BY_KEY[s].lateral]
        multi = [s for s in _MULTI if s in weights]
        use_twin = lateral and (not multi or rng.random() < 0.6)
        group += 1
        if use_twin:
            lp = np.array([weights[s] for s in lateral])
            site = str(rng.choice(lateral, p=lp / lp.sum()))
            d = _diameter(site, rng)
            suv = _suv(rng, tracer)
            for side in ("right", "left"):
                plans.append(LesionPlan(site, side, d * float(rng.uniform(0.8, 1.2)),
                                        suv * float(rng.uniform(0.75, 1.3)), "twin", group))
        else:
            mp = np.array([weights[s] for s in multi])
            site = str(rng.choice(multi, p=mp / mp.sum()))
            side = side_of(site)
            for _ in range(2):
                plans.append(LesionPlan(site, side, _diameter(site, rng), _suv(rng, tracer), "same_organ", group))
    while len(plans) < n:
        site = str(rng.choice(sites, p=p))
        plans.append(LesionPlan(site, side_of(site), _diameter(site, rng), _suv(rng, tracer)))
    plans = plans[:n]
    # a low-uptake lesion close to the liver background in about a third of exams
    if plans and rng.random() < 0.35:
        target = next((pl for pl in plans if pl.kind == "typical"), plans[-1])
        if "liver" in weights and rng.random() < 0.6 and target.kind == "typical":
            target.site, target.laterality = "liver", ""
            target.diameter_mm = _diameter("liver", rng)
        base = liver_suv if target.site == "liver" else 1.2
        target.true_suv = float(max(2.0, base * rng.uniform(1.35, 1.8)))
        if target.kind == "typical":
            target.kind = "low_uptake"
    for pl in plans:
        pl.lytic = bool(rng.random() < 0.6)
    return plans


def _allowed(site: str, targets: tuple[int, ...]) -> np.ndarray:
    lut = np.zeros(256, bool)
    lut[list(targets)] = True
    lut[list(SOFT)] = True
    if site.startswith("lung") or site in ("hilar_node", "mediastinal_node"):
        lut[list(LUNG)] = True
    if site in ("vertebra", "rib", "iliac_bone", "sacrum", "femur"):
        lut[list(BONE)] = True
    if SITE_BY_KEY[site].is_node:
        lut[[L["vein"], L["artery"], L["aorta"], L["small_bowel"], L["colon"]]] = True
    lut[0] = False
    return lut


def _forbidden(site: str, targets: tuple[int, ...]) -> np.ndarray:
    """Labels a lesion must not overlap: other organs, airways, bones (for soft-tissue sites)."""
    lut = np.zeros(256, bool)
    for value, label in LABEL_BY_VALUE.items():
        if label.group in ("organ", "airway") or (label.group == "bone" and site not in _BONE_SITES):
            lut[value] = True
    lut[list(targets)] = False
    lut[0] = True
    return lut


_BONE_SITES = ("vertebra", "rib", "iliac_bone", "sacrum", "femur")


def _box(grid: Grid, center: np.ndarray, half: np.ndarray) -> tuple[slice, slice, slice]:
    lo = np.floor((center - half - grid.origin) / grid.spacing).astype(int)
    hi = np.ceil((center + half - grid.origin) / grid.spacing).astype(int) + 1
    lo = np.clip(lo, 0, grid.shape)
    hi = np.clip(hi, 0, grid.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


def place_lesions(plans: list[LesionPlan], site_map: np.ndarray, grid: Grid, rng: np.random.Generator,
                  levels: dict[str, tuple[float, float]], centers: dict[str, tuple[float, float, float]],
                  uptake: np.ndarray | None = None, existing: list[dict] | None = None,
                  psf_fwhm_mm: float = 6.0, resolver=None) -> list[dict]:
    """Centre and radii (mm) of every planned lesion inside its structure.

    A lesion may not overlap another lesion, another organ, or lie within a PSF width of a structure
    nearly as hot as itself (the bladder next to an iliac node would otherwise set the
    node's measured SUVmax). Lesions that cannot be placed on this grid are dropped, never misplaced.
    ``resolver`` (phantom.lesions2.Resolver) places the fine sites of a version-2 anatomy.
    """
    zax, yax, xax = grid.axes()
    placed: list[dict] = list(existing or [])
    order = sorted(range(len(plans)), key=lambda i: -plans[i].diameter_mm)
    result: dict[int, dict] = {}
    for i in order:
        pl = plans[i]
        if resolver is not None:
            targets = resolver.targets(pl)
        else:
            targets = SITE_TARGETS[pl.site][pl.laterality if pl.laterality in SITE_TARGETS[pl.site] else ""]
        target_lut = np.zeros(256, bool)
        target_lut[list(targets)] = True
        cand = np.flatnonzero(target_lut[site_map])
        cz, cy, cx = np.unravel_index(cand, site_map.shape)
        keep = np.ones(cand.size, bool)
        if pl.laterality == "right":
            keep &= xax[cx] < -5
        elif pl.laterality == "left":
            keep &= xax[cx] > 5
        for other in placed:  # same-organ pairs sit at different levels
            if pl.kind == "same_organ" and other["plan"].group == pl.group:
                gap = max(30.0, (other["plan"].diameter_mm + pl.diameter_mm) / 2 + 12)
                keep &= np.abs(zax[cz] - other["center"][0]) > gap
        if pl.site == "femur":  # "proximal femur": the upper half of the thigh
            keep &= zax[cz] > -150.0
        cz, cy, cx = cz[keep], cy[keep], cx[keep]
        if resolver is not None:  # the sub-site's part of its structure
            inside = resolver.keep(pl, np.stack([zax[cz], yax[cy], xax[cx]], axis=1).astype(float))
            cz, cy, cx = cz[inside], cy[inside], cx[inside]
            allowed, forbidden = resolver.allowed(pl, targets), resolver.forbidden(pl, targets)
        else:
            allowed = _allowed(pl.site, targets)
            forbidden = _forbidden(pl.site, targets)
        hot = None
        if uptake is not None:
            host = float(uptake[list(targets)].max())
            if pl.true_suv < 1.3 * host and not SITE_BY_KEY[pl.site].is_node:  # a lesion shows above its organ
                low = pl.kind == "low_uptake"
                pl.true_suv = float(min(30.0, host * (rng.uniform(1.3, 1.6) if low else rng.uniform(1.6, 3.0))))
            hot_lut = uptake > 0.8 * pl.true_suv
            hot_lut[list(targets)] = False
            hot = hot_lut
        best = None
        diameter = pl.diameter_mm
        for attempt in range(60):
            if attempt and attempt % 15 == 0:
                diameter *= 0.8
            if cz.size:
                k = int(rng.integers(cz.size))
                center = np.array([zax[cz[k]], yax[cy[k]], xax[cx[k]]], float)
                center += rng.uniform(-0.5, 0.5, 3) * np.asarray(grid.spacing)
            else:
                key = _nominal_key(pl) if resolver is None else ""
                if key not in centers:
                    break  # the structure is not in this field of view: drop the lesion
                center = np.asarray(centers[key], float) + rng.normal(0, 2, 3)
            radii = diameter / 2 * rng.uniform(0.88, 1.12, 3)
            if resolver is not None and not (target_lut[site_map[grid.index_of(center)]]
                                             and resolver.keep(pl, center[None])[0]):
                continue  # the centre itself must lie in the sub-site, not only the voxel it was drawn from
            if any(np.linalg.norm(center - o["center"]) < radii.max() + o["radii"].max() + 3 + max(grid.spacing)
                   for o in placed):
                continue
            sl, frac = occupancy(grid, center, radii)
            mask = frac >= 0.5
            if not mask.any():
                mask = frac == frac.max()
            under = site_map[sl][mask]
            if allowed[under].mean() < 0.75 or forbidden[under].mean() > 0.02:
                continue
            if hot is not None and hot[site_map[_box(grid, center, radii + psf_fwhm_mm)]].any():
                continue
            best = (center, radii)
            break
        if best is None:
            continue
        entry = {"plan": pl, "center": best[0], "radii": best[1]}
        if pl.site in ("vertebra", "rib"):
            entry["level"] = next((k for k, (z0, z1) in levels.items() if z0 <= best[0][0] <= z1), "")
        placed.append(entry)
        result[i] = entry
    return [result[i] for i in range(len(plans)) if i in result]


def _nominal_key(pl: LesionPlan) -> str:
    side = "r" if pl.laterality == "right" else "l"
    if pl.site.endswith("_node"):
        base = f"node_{pl.site[: -len('_node')]}"
        return base if pl.site in ("mediastinal_node", "mesenteric_node") else f"{base}_{side}"
    return {"adrenal": f"adrenal_{side}", "prostate": "prostate", "thyroid": "thyroid"}.get(pl.site, pl.site)


def lesion_masks(placed: list[dict], grid: Grid) -> tuple[np.ndarray, list[tuple]]:
    """uint16 label volume (value = lesion id, 1-based in order) and per-lesion (slices, occupancy)."""
    labels = np.zeros(grid.shape, np.uint16)
    occ = []
    for k, entry in enumerate(placed, start=1):
        sl, frac = occupancy(grid, entry["center"], entry["radii"])
        mask = frac >= 0.5
        if not mask.any():
            mask = frac == frac.max()
        sub = labels[sl]
        sub[mask & (sub == 0)] = k
        occ.append((sl, frac))
    return labels, occ


def measure(placed: list[dict], labels: np.ndarray, pet: np.ndarray, grid: Grid, numbering,
            site_map: np.ndarray, occ: list[tuple],
            levels: dict[str, tuple[float, float]] | None = None) -> list[LesionTruth]:
    """Truth records: SUVmax and its image number measured on ``pet`` inside each lesion's mask, and the
    words that say where in its site each lesion sits (see phantom.subsites)."""
    from scipy.ndimage import binary_dilation

    out = []
    for k, (entry, (sl, _frac)) in enumerate(zip(placed, occ, strict=True), start=1):
        box = tuple(slice(max(0, s.start - 3), min(n, s.stop + 3)) for s, n in zip(sl, pet.shape, strict=True))
        offset = np.array([s.start for s in box])
        local = labels[box] == k
        if not local.any():
            continue
        values = pet[box][local]
        where = np.argwhere(local)
        peak = tuple(int(v) for v in where[int(np.argmax(values))] + offset)
        idx = values
        shell = binary_dilation(local, iterations=3) & ~binary_dilation(local, iterations=1)
        shell &= labels[box] == 0
        background = float(pet[box][shell].mean()) if shell.any() else 0.0
        pl: LesionPlan = entry["plan"]
        center = tuple(float(v) for v in entry["center"])
        host = LABEL2_BY_VALUE.get(int(site_map[grid.index_of(center)]))
        out.append(LesionTruth(
            id=k, site=pl.site, laterality=pl.laterality, center_mm=center,
            diameter_mm=round(float(2 * np.mean(entry["radii"])), 1), suvmax=float(values.max()),
            image_number=int(numbering.image_for_index(int(peak[0]))),
            volume_ml=round(float(idx.size * grid.voxel_volume_ml), 3), true_suv=round(pl.true_suv, 3),
            radii_mm=tuple(round(float(r), 2) for r in entry["radii"]),
            peak_index=tuple(int(v) for v in peak), region=str(SITE_BY_KEY[pl.site].region),
            host=host.key if host else "", level=entry.get("level", ""), kind=pl.kind, group=pl.group,
            lytic=pl.lytic, background_suv=round(background, 3),
            subsite=subsite(pl.site, pl.laterality, center, site_map, grid, levels or {}, entry.get("level", "")),
        ))
    qualifiers = relative_qualifiers(out)
    for les in out:
        les.same_site = sum(o.id != les.id and o.site == les.site and o.laterality == les.laterality for o in out)
        les.qualifier = qualifiers.get(les.id, "")
    return out


__all__ = ["LesionPlan", "LesionTruth", "lesion_masks", "measure", "place_lesions", "plan_lesions"]
