"""Describe the lesion you point at: its site and side in the report's words, its numbers, a drafted sentence.

Input is a lesion mask on the PET grid: a prediction, a painted label, or a hot spot grown from a click
(:func:`grow_from_click`, reusing weak labeling's lesion growing). The numbers (SUVmax, the image number of
the SUVmax slice, volume) are measured on the mask (findings.stats); the side is the side of the body
midline the lesion's centroid lies on (LPS x grows to the patient's left); the site comes from the describe
head trained on the grounding network's encoder features (model.describe_head), ranked over the lexicon's
vocabulary at two levels: the coarse site (organ, bone, station) with the most probability summed over its
fine entries first, then the best fine entry inside it ("liver", then "hepatic segment VII"), with the top
alternatives and their probabilities. The same code serves the viewer and the CLI.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ModelError, WeakLabelError
from ..report.lexicon import SITE_BY_KEY, coarse_of, within
from ..session import StudySession
from ..study.study import Study
from ..wording import with_article
from .describe_vocab import VocabEntry
from .draft import DraftLine, draft_paragraph, draft_sentence, lesion_noun


@dataclass(frozen=True)
class SiteScore:
    """One candidate name for the lesion and the head's probability for it."""

    site: str
    side: str
    score: float

    @property
    def region(self) -> str:
        return str(SITE_BY_KEY[self.site].region)

    @property
    def phrase(self) -> str:
        return lesion_noun(self.site, self.side)


@dataclass
class Description:
    """What a reader would write about one lesion, and the evidence for it."""

    site: str  # lexicon key, "" when no describe head is available
    side: str  # "left", "right" or "" (unpaired site or on the midline)
    sentence: str  # drafted report sentence
    suvmax: float
    image_number: int  # image number of the slice holding the SUVmax voxel
    volume_ml: float
    peak_index: tuple[int, int, int]  # PET (z, y, x) of SUVmax
    centroid_mm: tuple[float, float, float]  # LPS (z, y, x)
    body_side: str  # side of the centroid relative to the body midline: "left", "right", "midline", or ""
    # where the body cannot be placed (no landmarks: a crop's midline is not the body's)
    alternatives: list[SiteScore] = field(default_factory=list)  # best first; [0] is the chosen one
    tracer: str = ""
    note: str = ""
    lean_side: str = ""  # the side of the midline by sign alone: names a paired site's side near the midline
    # probability of every likely site, fine entries (both sides summed) and coarse sites (their entries summed)
    site_probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return str(SITE_BY_KEY[self.site].region) if self.site else ""

    @property
    def coarse(self) -> str:
        """The coarse site: the organ, bone or station holding the named sub-site ("liver" for segment VII)."""
        return coarse_of(self.site) if self.site else ""

    @property
    def phrase(self) -> str:
        return lesion_noun(self.site, self.side)

    def with_site(self, site: str, side: str | None = None) -> Description:
        """The same lesion called ``site`` (e.g. a lower-ranked alternative), with its sentence redrafted."""
        if site and site not in SITE_BY_KEY:
            raise KeyError(f"unknown site {site!r}")
        if side is None:
            side = self.body_side if self.body_side in ("left", "right") else self.lean_side
        side = side if site and SITE_BY_KEY[site].lateral else ""
        sentence = draft_sentence(site, side, self.suvmax, self.image_number, self.volume_ml, self.tracer)
        return replace(self, site=site, side=side, sentence=sentence)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["alternatives"] = [{"site": a.site, "side": a.side, "phrase": a.phrase, "region": a.region,
                                "score": round(a.score, 4)} for a in self.alternatives]
        out["region"] = self.region
        out["coarse"] = self.coarse
        out["phrase"] = self.phrase
        out["site_probabilities"] = {k: round(v, 4) for k, v in self.site_probabilities.items()}
        return out


class Describer:
    """A grounding network and its describe head. The encoder features come from the study's session
    (model.features), where grounding with the same checkpoint on the same device put them: a lesion described
    after a grounding costs no second preprocessing or encoding."""

    def __init__(self, network, config, head=None, *, device: str | None = None, checkpoint: str = "memory",
                 cache_size: int = 2, precision: str = "auto") -> None:
        from .features import network_device

        self.network = network
        self.config = config
        self.head = head
        self.device = str(device or network_device(network))
        self.checkpoint = checkpoint
        self.precision = precision  # as the grounder's (model.decoding.autocast_dtype), so features are shared
        self._sessions: OrderedDict[int, StudySession] = OrderedDict()  # for plain Studies
        self._cache_size = cache_size

    @classmethod
    def from_checkpoint(cls, folder: str | Path | None = None, device: str = "cpu") -> Describer:
        """Network + head of a checkpoint folder (None = the shipped demo); the head is optional."""
        from .checkpoint import load_checkpoint, shipped_checkpoint
        from .features import checkpoint_id

        folder = shipped_checkpoint() if folder is None else Path(folder)
        network, config = load_checkpoint(folder, device)
        return cls(network, config, _head_of(folder, config), device=device, checkpoint=checkpoint_id(folder))

    @classmethod
    def for_grounder(cls, grounder) -> Describer:
        """The describer of a loaded Grounder: its network, device and checkpoint, the head of its folder."""
        head = _head_of(grounder.source, grounder.config) if grounder.source is not None else None
        return cls(grounder.network, grounder.config, head, device=grounder.device, checkpoint=grounder.checkpoint,
                   precision=grounder.precision)

    @property
    def spec(self):
        from .describe_features import FeatureSpec

        return self.head.config.spec if self.head is not None else FeatureSpec()

    def session_for(self, study: Study | StudySession) -> StudySession:
        """``study``'s session: itself, or for a plain Study one kept here for the last few studies."""
        if isinstance(study, StudySession):
            return study
        hit = self._sessions.get(id(study))
        if hit is None or hit.study is not study:
            hit = StudySession(study)
            self._sessions[id(study)] = hit
        self._sessions.move_to_end(id(study))
        while len(self._sessions) > self._cache_size:
            self._sessions.popitem(last=False)
        return hit

    def encoded(self, study: Study | StudySession):
        """The study's encoder features as the head reads them (the slow part, done once per session)."""
        from .decoding import autocast_for, device_label
        from .features import encode_study

        session = self.session_for(study)
        features = session.features(
            f"{self.checkpoint}@{device_label(self.device, self.precision)}",
            lambda: encode_study(self.network, self.config, session.study, self.device,
                                 autocast_for(self.device, self.precision), self.checkpoint),
            checkpoint=self.checkpoint,
            load=lambda store: store.load(session.signature, self.checkpoint, self.network, self.device))
        return features.encoded(self.spec)

    def site_scores(self, study: Study | StudySession, mask: np.ndarray, body_side: str,
                    box=None) -> list[SiteScore]:
        """Every vocabulary entry with its probability, best first (empty without a head)."""
        if self.head is None:
            return []
        from ..weaklabel.label import study_ct_on_pet
        from .describe_features import lesion_features, mask_on_model_grid
        from .describe_tissue import native_tissue_features
        from .describe_train import gate_by_sex, predict

        session = self.session_for(study)
        encoded = self.encoded(session)
        model_mask = mask_on_model_grid(mask, encoded.prepared, box)
        if not model_mask.any():
            raise ModelError("the lesion lies outside the body crop the model sees; check the mask's position")
        spec = self.head.config.spec
        pet = session.study.pet
        native = native_tissue_features(study_ct_on_pet(session.study), pet.spacing, mask, box) \
            if spec.native_tissue else None
        features = lesion_features(encoded, model_mask, spec, native)
        probs = predict(self.head, features[None], [body_side if body_side in ("left", "right") else ""])[0]
        entries: list[VocabEntry] = self.head.config.vocab
        probs = gate_by_sex(probs, entries, session.study.patient.sex)  # no ovary in a man, no prostate in a woman
        order = np.argsort(-probs)
        return [SiteScore(entries[i].site, entries[i].side, float(probs[i])) for i in order if probs[i] > 0]

    def unplaced(self, study: Study | StudySession) -> str:
        """Why this study's lesions cannot be placed in the body ("" when they can): the head reads anatomical
        coordinates and no landmark was found (model.applicability says the same beside a grounding)."""
        if self.head is None or self.head.config.spec.version < 2:
            return ""
        frame = getattr(self.encoded(study).prepared, "frame", None)
        return frame.describe() if frame is not None and not frame.located else ""

    @staticmethod
    def lesion_stats(study: Study, mask: np.ndarray, box=None):
        """weaklabel.components' statistics of the lesion (the numbers every part of the package uses),
        measured in its bounding box only, which keeps whole-body grids fast; the side is relative to the
        body midline (weaklabel.components.body_midline_x_mm, cached on the study)."""
        from ..study.grid import bounding_box
        from ..weaklabel.components import body_midline_x_mm, component_stats

        box = box or bounding_box(mask)
        if box is None:
            raise ModelError("nothing to describe: the mask is empty")
        sub = mask[box].astype(np.uint8)
        (stats,) = component_stats(sub, study.pet, study.numbering, body_midline_x_mm(study),
                                   offset=tuple(s.start for s in box))
        return stats

    def describe(self, study: Study | StudySession, mask: np.ndarray, *, top: int = 3,
                 tracer: str | None = None) -> Description:
        """Describe the lesion ``mask`` (PET grid, bool or nonzero)."""
        session = self.session_for(study)
        study = session.study
        mask = np.asarray(mask)
        if mask.shape != study.pet.shape:
            raise ModelError(f"the lesion mask {mask.shape} is not on the PET grid {study.pet.shape}; "
                             "use a Labels layer on the PET grid")
        from ..study.grid import bounding_box

        mask = mask if mask.dtype == bool else mask != 0
        box = bounding_box(mask)
        if box is None:
            raise ModelError("nothing to describe: the mask is empty; paint or grow a lesion first")
        stats = self.lesion_stats(study, mask, box)
        image = study.numbering.image_for_index(stats.peak_index[0])
        lean = _lean_side(study, stats)
        body_side = stats.side
        tracer = study.tracer if tracer is None else tracer
        unplaced = self.unplaced(session)
        if unplaced:
            # a head reading anatomical coordinates in a body without landmarks (a limb crop) answers with
            # confidence and at random (real thigh sarcomas were named uterus, testis, C2); and the midline of a
            # crop is not the body's, so the side is not named either
            scores, body_side, lean = [], "", ""
            note = f"{unplaced}: where this lesion lies in the body cannot be placed, so its site and side are not named"
        else:
            # within the midline tolerance a paired site (a left para-aortic node, say) still has a side: its sign
            scores = self.site_scores(session, mask, body_side if body_side in ("left", "right") else lean, box)
            note = "" if scores or self.head is not None else "this checkpoint carries no describe head: site not named"
        ranked, probabilities = rank_hierarchically(scores)
        description = Description("", "", "", stats.suvmax, int(image), stats.volume_ml, stats.peak_index,
                                  stats.centroid_mm, body_side, ranked[:top], tracer, note, lean, probabilities)
        best = ranked[0] if ranked else None
        return description.with_site(best.site, best.side or None) if best else description.with_site("")


def rank_hierarchically(scores: list[SiteScore]) -> tuple[list[SiteScore], dict[str, float]]:
    """The fine scores reordered so that the best entry of the most probable coarse site comes first (the
    rest keep their order), and the probability of every likely fine and coarse site."""
    if not scores:
        return [], {}
    coarse: dict[str, float] = {}
    fine: dict[str, float] = {}
    for sc in scores:
        coarse[coarse_of(sc.site)] = coarse.get(coarse_of(sc.site), 0.0) + sc.score
        fine[sc.site] = fine.get(sc.site, 0.0) + sc.score
    best_coarse = max(coarse, key=coarse.__getitem__)
    first = next(sc for sc in scores if coarse_of(sc.site) == best_coarse)
    ranked = [first] + [sc for sc in scores if sc is not first]
    probabilities = {k: v for k, v in {**fine, **coarse}.items() if v >= 1e-3}
    return ranked, probabilities


def _lean_side(study: Study, stats) -> str:
    """"left" or "right" of the body midline by sign alone (x grows to the patient's left)."""
    from ..weaklabel.components import body_midline_x_mm, side_of

    side = side_of(float(stats.centroid_mm[2]), body_midline_x_mm(study), tolerance_mm=0.0)
    return side if side in ("left", "right") else ""


def _head_of(folder: str | Path, config):
    """The describe head stored in a checkpoint folder, or None."""
    from .describe_head import has_head, load_head

    return load_head(folder, config.text.fingerprint) if has_head(folder) else None


def describer_for(obj, head=None) -> Describer:
    """The Describer of a Describer, of a Grounder (its own, sharing its features) or of a GroundingNet
    (with ``head``)."""
    from .grounder import Grounder
    from .network import GroundingNet

    if isinstance(obj, Describer):
        describer = obj
    elif isinstance(obj, Grounder):
        describer = obj.describer
    elif isinstance(obj, GroundingNet):
        return Describer(obj, obj.config, head)
    else:
        raise ModelError(f"cannot describe with {with_article(type(obj).__name__)}: give a Grounder, a Describer "
                         "or a network")
    if head is not None:
        describer.head = head
    return describer


def describe_lesion(grounder_or_network, study: Study, mask: np.ndarray, *, head=None, top: int = 3) -> Description:
    """Describe one lesion mask of ``study`` with a Grounder, a GroundingNet (+ ``head``) or a Describer."""
    return describer_for(grounder_or_network, head).describe(study, mask, top=top)


def hot_spot_near(pet: np.ndarray, index_zyx, spacing, radius_mm: float = 15.0) -> tuple[int, int, int]:
    """The peak of the hot spot at a clicked voxel: climb to ever hotter neighbours (26-neighbourhood),
    staying within ``radius_mm`` of the click, so a click on a lesion's edge finds that lesion's SUVmax
    voxel and not a hotter neighbour's."""
    pet = np.asarray(pet)
    start = np.round(np.asarray(index_zyx, dtype=float)).astype(int)
    if not all(0 <= c < n for c, n in zip(start, pet.shape, strict=True)):
        raise WeakLabelError(f"the point {tuple(int(c) for c in start)} is outside the PET volume "
                             f"{pet.shape}; point at a hot spot inside the PET")
    spacing = np.asarray(spacing, float)
    offsets = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if a or b or c])
    current = start
    value = float(np.nan_to_num(pet[tuple(current)], nan=-np.inf))
    while True:
        around = current + offsets
        inside = np.all((around >= 0) & (around < pet.shape), axis=1)
        inside &= np.sqrt((((around - start) * spacing) ** 2).sum(axis=1)) <= radius_mm
        if not inside.any():
            break
        candidates = around[inside]
        values = np.nan_to_num(pet[tuple(candidates.T)].astype(float), nan=-np.inf)
        best = int(np.argmax(values))
        if values[best] <= value:
            break
        current, value = candidates[best], float(values[best])
    return tuple(int(c) for c in current)  # type: ignore[return-value]


def grow_from_click(study: Study, index_zyx, *, radius_mm: float = 15.0, min_contrast: float = 1.5):
    """The lesion at a clicked PET voxel: hottest voxel nearby, grown with weak labeling's default method.

    WeakLabelError (with what to do) when there is no hot spot there or the growth runs away.
    """
    from ..weaklabel.grow import grow_lesion

    pet = study.pet
    seed = hot_spot_near(pet.data, index_zyx, pet.spacing, radius_mm)
    result = grow_lesion(pet.data, seed, pet.spacing)
    if not result.ok:
        raise WeakLabelError(f"no lesion could be grown at the cursor ({result.reason}); "
                             "point closer to a hot spot or paint the lesion and describe the label")
    background = result.background or 0.0
    if background > 0 and result.suvmax < min_contrast * background:
        raise WeakLabelError(f"no hot spot at the cursor (SUVmax {result.suvmax:.1f} vs background "
                             f"{background:.1f}); point at a lesion")
    return result


def describe_labels(describer: Describer, study: Study | StudySession, labels: np.ndarray) -> dict[int, Description]:
    """A Description for every label present in ``labels`` (PET grid)."""
    from scipy import ndimage

    pet = (study.study if isinstance(study, StudySession) else study).pet
    labels = np.asarray(labels)
    if labels.shape != pet.shape:
        raise ModelError(f"labels {labels.shape} are not on the PET grid {pet.shape}")
    out = {}
    for index, box in enumerate(ndimage.find_objects(labels.astype(np.int64, copy=False)), start=1):
        if box is None:
            continue
        mask = np.zeros(labels.shape, bool)
        mask[box] = labels[box] == index
        out[index] = describer.describe(study, mask)
    return out


def draft_findings(descriptions: dict[int, Description], sentences: dict[int, str] | None = None) -> str:
    """Findings paragraph, head to feet: each label's own sentence when given, else its drafted one."""
    sentences = sentences or {}
    lines = [DraftLine(sentences.get(label) or d.sentence, d.centroid_mm[0], label)
             for label, d in descriptions.items()]
    return draft_paragraph(lines)


def adopt_finding(description: Description, finding) -> Description:
    """The description with the site and side a reader accepted (a Finding's), numbers still from the mask."""
    site = getattr(finding, "site", "") if finding is not None else ""
    if not site or site not in SITE_BY_KEY:
        return description
    side = getattr(finding, "laterality", "")
    return description.with_site(site, side if side in ("left", "right") else None)


def compare_description(finding, description: Description) -> tuple[bool, str]:
    """Does a sentence's site and side agree with what the lesion looks like? (ok, reason for a ⚠).

    A site agrees when one names the other or a sub-site of it ("liver" and "hepatic segment VII"); another
    sub-site of the same coarse site ("segment VI" for a lesion that looks like segment VII) is flagged only
    when the head gives it under 5 %."""
    problems = []
    side = getattr(finding, "laterality", "")
    if side in ("left", "right") and description.body_side in ("left", "right") and side != description.body_side:
        problems.append(f"the sentence says {side}, the lesion is on the patient's {description.body_side}")
    site = getattr(finding, "site", "")
    note = ""
    if site and description.site and not (within(site, description.site) or within(description.site, site)):
        candidates = {a.site: a.score for a in description.alternatives}
        candidates.update(description.site_probabilities)
        said = SITE_BY_KEY[site].phrase if site in SITE_BY_KEY else site
        looks = lesion_noun(description.site)
        if coarse_of(site) and coarse_of(site) == description.coarse:
            p = candidates.get(site, 0.0)
            if p < 0.05:
                problems.append(f"it looks more like {with_article(looks)} than {with_article(said)} ({p:.0%})")
            else:
                note = f"; {said} is possible too ({p:.0%})"
        elif site in candidates:
            problems.append(f"it looks more like {with_article(looks)} than {with_article(said)} "
                            f"({candidates[site]:.0%})")
        else:
            same_region = site in SITE_BY_KEY and str(SITE_BY_KEY[site].region) == description.region
            where = "in the same region, " if same_region else ""
            problems.append(f"{where}it looks like {with_article(looks)}, not {with_article(said)}")
    if problems:
        return False, "; ".join(problems)
    if not description.site:
        return True, "side checked; no describe head for the site"
    return True, f"site and side agree ({description.phrase}){note}"

