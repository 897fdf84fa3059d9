"""``make_phantom``: one synthetic PET/CT exam with lesions, its report, and the truth tying them together.

Seeded and deterministic: independent random streams (anatomy, physiology, lesions, noise, text) are
spawned from the seed, so the same seed gives the same patient and lesions at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PhantomError
from ..report.lexicon import SITE_BY_KEY
from ..study.numbering import Convention, ImageNumbering
from ..study.study import PatientInfo, Study
from ..study.volume import Volume
from .anatomy import AnatomyParams, build_anatomy, extent
from .labels import L, hu_lut, label_table
from .lesions import LesionTruth, lesion_masks, measure, place_lesions, plan_lesions
from .pet import add_noise, blur, draw_uptake, normalise_tracer, uptake_lut
from .shapes import Grid, occupancy
from .text import SentenceTruth, build_report

PSF_FWHM_MM = 6.0


@dataclass
class Phantom:
    """A synthetic exam: the Study (CT HU, PET SUV, report) plus masks and truth on the PET grid."""

    seed: int
    tracer: str
    study: Study
    lesion_labels: np.ndarray  # uint16 on the PET grid, value = lesion id
    site_map: np.ndarray  # uint8 on the PET grid, see phantom.labels
    lesions: list[LesionTruth]
    report: str
    sentences: list[SentenceTruth]
    options: dict = field(default_factory=dict)

    def lesion(self, lesion_id: int) -> LesionTruth:
        for les in self.lesions:
            if les.id == lesion_id:
                return les
        raise KeyError(f"no lesion {lesion_id} in this phantom (ids: {[x.id for x in self.lesions]})")

    def truth(self) -> dict:
        """JSON-ready truth: lesions, sentences, numbering, label table, generator options."""
        return {
            "seed": self.seed,
            "tracer": self.tracer,
            "options": self.options,
            "lesions": [les.to_dict() for les in self.lesions],
            "sentences": [s.to_dict() for s in self.sentences],
            "numbering": {"convention": self.study.numbering.convention.value,
                          "numbers": list(self.study.numbering.numbers)},
            "label_table": label_table() if self.options.get("version", 1) == 1 else _label_table2(),
        }


def _streams(seed: int) -> dict[str, np.random.Generator]:
    names = ("anatomy", "physiology", "lesions", "noise", "text", "ct")
    children = np.random.SeedSequence(int(seed)).spawn(len(names))
    return {n: np.random.default_rng(c) for n, c in zip(names, children, strict=True)}


def make_phantom(
    seed: int,
    *,
    tracer: str = "FDG",
    resolution_mm: float = 4.0,
    n_lesions: int | None = None,
    extent: str = "neck_to_thighs",
    confusable: bool = True,
    pet_resolution_mm: float | None = None,
    noise: float = 1.0,
    psf_fwhm_mm: float = PSF_FWHM_MM,
    version: int = 1,
) -> Phantom:
    """Generate one exam. CT and PET share the grid unless ``pet_resolution_mm`` asks for a coarser PET.

    ``version=1`` (the default) gives the exams this generator has always given for a seed: 27 sites of the
    first lexicon. ``version=2`` gives the same patient with the anatomy of the whole vocabulary
    (phantom.anatomy2) and lesions at any fine site it holds (phantom.lesions2), described in its words."""
    tracer = normalise_tracer(tracer)
    if version not in (1, 2):
        raise PhantomError(f"version is 1 or 2, not {version!r}")
    if not 0.5 <= float(resolution_mm) <= 20:
        raise PhantomError(f"resolution_mm must be between 0.5 and 20 mm, got {resolution_mm}")
    pet_res = float(pet_resolution_mm or resolution_mm)
    if pet_res < resolution_mm:
        raise PhantomError("pet_resolution_mm must not be finer than resolution_mm (the CT grid)")
    rng = _streams(seed)
    params = AnatomyParams.draw(rng["anatomy"], whole_body=(extent == "whole_body"))
    lo, hi = _extent(params, extent)
    ct_grid = Grid.covering(lo, hi, (float(resolution_mm),) * 3)
    pet_grid = ct_grid if pet_res == resolution_mm else Grid.covering(lo, hi, (pet_res,) * 3)

    uptake = draw_uptake(tracer, rng["physiology"])
    acquisition = _acquisition(tracer, rng["physiology"])
    anatomy = build_anatomy(params, pet_grid, version)
    site_map = anatomy.site_map
    resolver = None
    if version >= 2:
        from .lesions2 import Resolver, plan_lesions2, present_sides
        from .pet import draw_uptake2, uptake_lut2

        uptake = {**uptake, **draw_uptake2(tracer, uptake, rng["physiology"])}
        present = present_sides(site_map, pet_grid)

        def plan(n, confusable):
            return plan_lesions2(rng["lesions"], tracer, n, params.sex, confusable, uptake["liver"], present)

        lut = uptake_lut2(uptake)
        resolver = Resolver(site_map, pet_grid, anatomy.levels)
    else:
        def plan(n, confusable):
            return plan_lesions(rng["lesions"], tracer, n, params.sex, confusable, uptake["liver"])

        lut = uptake_lut(uptake)
    plans = plan(n_lesions, confusable)
    placed = place_lesions(plans, site_map, pet_grid, rng["lesions"], anatomy.levels, anatomy.centers, lut,
                           psf_fwhm_mm=psf_fwhm_mm, resolver=resolver)
    for _ in range(4 if version == 1 else 8):  # replace lesions whose structure had no room on this grid
        if len(placed) >= len(plans):
            break
        extra = plan(len(plans) - len(placed), False)
        placed += place_lesions(extra, site_map, pet_grid, rng["lesions"], anatomy.levels, anatomy.centers, lut,
                                existing=placed, psf_fwhm_mm=psf_fwhm_mm, resolver=resolver)
    labels, occ = lesion_masks(placed, pet_grid)

    # PET: organ uptake, lesions with partial-volume occupancy, blur, noise
    activity = lut[site_map]
    for entry, (sl, frac) in zip(placed, occ, strict=True):
        sub = activity[sl]
        sub *= 1.0 - frac
        sub += np.float32(entry["plan"].true_suv) * frac
    pet = blur(activity, pet_grid.spacing, psf_fwhm_mm)
    del activity
    pet = add_noise(pet, rng["noise"], pet_grid.spacing, noise)
    numbering = ImageNumbering.from_convention(pet_grid.shape[0], Convention.HEAD_FIRST)
    lesions = measure(placed, labels, pet, pet_grid, numbering, site_map, occ, anatomy.levels)

    ct = _ct(params, ct_grid, pet_grid, site_map, placed, rng["ct"], version)
    reference = _reference(pet, site_map)
    report, sentences = build_report(lesions, rng["text"], tracer, reference, extent, params.weight_kg(),
                                     acquisition, version)

    patient = PatientInfo(patient_id=f"PHANTOM-{seed:05d}" if seed >= 0 else "PHANTOM", name=f"Phantom^{seed}",
                          sex=params.sex, weight_kg=params.weight_kg(), height_m=params.height_m(),
                          study_date="20250101")
    pet_vol = Volume(pet, pet_grid.spacing, pet_grid.origin, metadata={"units": "SUVbw", "psf_fwhm_mm": psf_fwhm_mm})
    ct_vol = Volume(ct, ct_grid.spacing, ct_grid.origin, metadata={"units": "HU"})
    options = {"tracer": tracer, "resolution_mm": float(resolution_mm), "pet_resolution_mm": pet_res,
               "n_lesions": n_lesions, "extent": extent, "confusable": confusable, "noise": noise,
               "psf_fwhm_mm": psf_fwhm_mm, "sex": params.sex, "weight_kg": params.weight_kg(),
               "vertebral_levels": {k: [round(a, 1), round(b, 1)] for k, (a, b) in anatomy.levels.items()},
               "reference": reference, "acquisition": acquisition}
    if version != 1:  # version-1 exams keep exactly the options they always had
        options["version"] = version
    study = Study(pet=pet_vol, ct=ct_vol, numbering=numbering, tracer=tracer, patient=patient,
                  source_kind="phantom", report=report, study_uid=_uid(seed, "study"),
                  frame_of_reference_uid=_uid(seed, "frame"))
    phantom = Phantom(seed, tracer, study, labels, site_map, lesions, report, sentences, options)
    study.extras.update({"site_map": site_map, "lesion_labels": labels, "truth": phantom.truth(),
                         "phantom_seed": seed})
    return phantom


def _label_table2() -> list[dict]:
    from .labels2 import label_table2

    return label_table2()


def _uid(seed: int, what: str) -> str:
    """Deterministic valid DICOM UID for this phantom."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["napari-petground phantom", str(seed), what]))


# radionuclide per tracer: (name, half-life s)
NUCLIDES = {"FDG": ("F-18", 6586.2), "PSMA": ("F-18", 6586.2), "FLUCICLOVINE": ("F-18", 6586.2),
            "DOTATATE": ("Ga-68", 4062.6)}


def _acquisition(tracer: str, rng: np.random.Generator) -> dict:
    """Injected dose, uptake time and (FDG) glucose, shared by the report text and the DICOM headers."""
    mbq = rng.uniform(300, 480) if tracer != "DOTATATE" else rng.uniform(120, 200)
    uptake = {"FDG": (55, 75), "PSMA": (55, 70), "DOTATATE": (45, 65), "FLUCICLOVINE": (3, 6)}[tracer]
    return {"dose_mbq": round(float(mbq), 1), "uptake_min": int(rng.integers(*uptake)),
            "glucose_mg_dl": int(rng.integers(78, 140)), "nuclide": NUCLIDES[tracer][0],
            "half_life_s": NUCLIDES[tracer][1]}


def _extent(params: AnatomyParams, which: str):
    try:
        return extent(params, which)
    except ValueError as exc:
        raise PhantomError(str(exc)) from None


def _ct(params: AnatomyParams, ct_grid: Grid, pet_grid: Grid, pet_sites: np.ndarray, placed: list[dict],
        rng: np.random.Generator, version: int = 1) -> np.ndarray:
    """CT in HU: tissue values, lesions with partial volume, and mild noise."""
    sites = pet_sites if ct_grid == pet_grid else build_anatomy(params, ct_grid, version).site_map
    if version >= 2:
        from .labels2 import hu_lut2

        hu = np.asarray(hu_lut2(), np.float32)[sites]
    else:
        hu = np.asarray(hu_lut(), np.float32)[sites]
    for entry in placed:
        pl = entry["plan"]
        sl, frac = occupancy(ct_grid, entry["center"], entry["radii"])
        host = sites[ct_grid.index_of(entry["center"])]
        if SITE_BY_KEY[pl.site].region == "bone":
            value = 45.0 if pl.lytic else 700.0
        elif host == L["liver"]:
            value = 35.0
        else:
            value = 40.0
        sub = hu[sl]
        sub *= 1.0 - frac
        sub += np.float32(value) * frac
    flat = hu.reshape(-1)
    idx = np.flatnonzero(sites.reshape(-1))  # noise inside the body; air stays -1000
    flat[idx] += rng.standard_normal(idx.size, dtype=np.float32) * np.float32(12.0)
    np.rint(hu, out=hu)
    np.clip(hu, np.float32(-1024), np.float32(3071), out=hu)
    return hu.astype(np.int16)


def _reference(pet: np.ndarray, site_map: np.ndarray) -> dict:
    """Reference values a reader would quote: blood pool (aorta) and liver SUV."""
    out = {}
    sub = (slice(None, None, 2),) * 3 if pet.size > 8_000_000 else (slice(None),) * 3  # percentiles: a sample is enough
    pet, site_map = pet[sub], site_map[sub]
    for name, keys in (("blood_pool", ("aorta",)), ("liver", ("liver",))):
        lut = np.zeros(256, bool)
        lut[[L[k] for k in keys]] = True
        values = pet[lut[site_map]]
        out[name] = round(float(np.percentile(values, 90)), 1) if values.size else 0.0
        out[f"{name}_mean"] = round(float(values.mean()), 2) if values.size else 0.0
    return out
