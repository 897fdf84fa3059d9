"""A whole-body anatomy made of analytic shapes, painted into a site-label map on any grid.

Geometry is in LPS millimetres (x to the patient's left, y posterior, z superior) with z = 0 at the
femoral heads. ``AnatomyParams`` holds the patient's random build (size, fat, organ offsets); painting is a
pure function of (params, grid), so the CT and a coarser PET grid show the same body.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .labels import LUNG, SOFT, L
from .shapes import Canvas, Grid
from .skeleton import SkeletonPainter, arm_x

# muscle-boundary profile of head, neck and trunk: z, half width (x), half depth (y), y centre (mm)
_PROFILE = np.array([
    (-90, 165, 112, 0), (0, 175, 115, 0), (80, 170, 115, 0), (160, 158, 112, 0), (230, 150, 115, -5),
    (300, 155, 118, -5), (380, 165, 115, 0), (460, 172, 110, 0), (520, 185, 100, 5), (548, 165, 85, 10),
    (572, 78, 64, 12), (600, 58, 60, 12), (650, 56, 60, 10), (690, 66, 84, -5), (740, 74, 100, -10),
    (800, 78, 102, -5), (860, 68, 90, 0), (895, 42, 58, 0), (918, 6, 6, 0),
], dtype=float)
# one leg: z, half width, half depth, y centre
_LEG = np.array([
    (-910, 36, 95, -45), (-880, 40, 90, -40), (-850, 34, 40, 10), (-800, 32, 35, 12), (-600, 52, 58, 10),
    (-450, 50, 50, 0), (-250, 68, 72, 0), (-60, 84, 92, 0),
], dtype=float)
# vertebral levels from the skull base down: name, height (mm)


@dataclass(frozen=True)
class AnatomyParams:
    """One patient's build. Scales: ``w`` widths, ``h`` heights; ``fat`` subcutaneous fat (mm)."""

    w: float = 1.0
    h: float = 1.0
    fat: float = 18.0
    sex: str = "M"
    bladder: float = 1.0
    dome_r: float = 335.0
    dome_l: float = 318.0
    heart: float = 1.0
    jitter: dict = field(default_factory=dict)  # organ key -> (dz, dy, dx) mm
    whole_body: bool = False

    @classmethod
    def draw(cls, rng: np.random.Generator, whole_body: bool = False) -> AnatomyParams:
        keys = ("liver", "spleen", "kidney_r", "kidney_l", "heart", "stomach", "bladder", "thyroid", "pancreas")
        w = float(rng.uniform(0.9, 1.1))
        return cls(
            w=w,
            h=float(rng.uniform(0.93, 1.07)),
            fat=float(rng.uniform(8.0, 32.0)),
            sex=str(rng.choice(["M", "F"])),
            bladder=float(rng.uniform(0.7, 1.25)),
            dome_r=float(rng.uniform(325, 345)),
            dome_l=float(rng.uniform(308, 328)),
            heart=float(rng.uniform(0.9, 1.1)),
            jitter={k: tuple(float(v) for v in rng.normal(0, 5, 3)) for k in keys},
            whole_body=whole_body,
        )

    def weight_kg(self) -> float:
        """Body weight consistent with the build (for SUV and DICOM headers)."""
        return round(72.0 * self.w**2 * self.h * (1 + (self.fat - 18.0) / 60.0), 1)

    def height_m(self) -> float:
        return round(1.74 * self.h, 2)


def extent(params: AnatomyParams, which: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Field of view (zyx mm) of a ``"neck_to_thighs"`` or ``"whole_body"`` acquisition."""
    h, w, f = params.h, params.w, params.fat
    if which == "whole_body":
        z = (-915 * h, 922 * h)
        half_x = arm_x(params) + 45 * w + 20
    elif which == "neck_to_thighs":
        z = (-290 * h, 745 * h)
        half_x = 185 * w + f + 20
    else:
        raise ValueError(f"extent is 'neck_to_thighs' or 'whole_body', not {which!r}")
    y = (-(125 * w + f + 30), 120 * w + f + 20)
    return (z[0], y[0], -half_x), (z[1], y[1], half_x)


@dataclass
class Body:
    """Per-slice body outline (muscle boundary) interpolated from the profile tables."""

    z: np.ndarray
    a: np.ndarray
    b: np.ndarray
    yc: np.ndarray

    @classmethod
    def of(cls, p: AnatomyParams, z: np.ndarray) -> Body:
        zz = _PROFILE[:, 0] * p.h
        a = np.interp(z, zz, _PROFILE[:, 1] * p.w, left=0, right=0)
        b = np.interp(z, zz, _PROFILE[:, 2] * p.w, left=0, right=0)
        yc = np.interp(z, zz, _PROFILE[:, 3] * p.w)
        return cls(z, a.astype(np.float32), b.astype(np.float32), yc.astype(np.float32))


def fat_at(p: AnatomyParams, z: np.ndarray) -> np.ndarray:
    """Subcutaneous fat thickness: the patient's value on the trunk, thin on the neck and head."""
    return np.interp(z, [-2000, 520 * p.h, 575 * p.h, 2000], [p.fat, p.fat, 5.0, 5.0]).astype(np.float32)


class _Painter(SkeletonPainter):
    def __init__(self, p: AnatomyParams, grid: Grid) -> None:
        self.p = p
        self.c = Canvas(grid)
        self.body = Body.of(p, self.c.z)
        self.levels: dict[str, tuple[float, float]] = {}
        self.centers: dict[str, tuple[float, float, float]] = {}
        self.paths: dict[str, list] = {}  # centre lines of tubes a later stage splits into parts (version 2)

    # scaled coordinates and anchors
    def Z(self, v: float) -> float:
        return v * self.p.h

    def X(self, v: float) -> float:
        return v * self.p.w

    def prof(self, z_mm: float) -> tuple[float, float, float]:
        zz = _PROFILE[:, 0] * self.p.h
        return (float(np.interp(z_mm, zz, _PROFILE[:, 1] * self.p.w)),
                float(np.interp(z_mm, zz, _PROFILE[:, 2] * self.p.w)),
                float(np.interp(z_mm, zz, _PROFILE[:, 3] * self.p.w)))

    def cavity(self, z_mm: float) -> tuple[float, float, float]:
        """(half width, half depth, y centre) of the trunk cavity at height z."""
        a, b, yc = self.prof(z_mm)
        return a - 22 * self.p.w, b - 32 * self.p.w, yc - 14 * self.p.w

    def spine_y(self, z_mm: float) -> float:
        a, b, yc = self.prof(z_mm)
        depth = 58 if z_mm < self.Z(560) else 36
        return yc + b - depth * self.p.w

    def j(self, key: str, center: tuple[float, float, float]) -> tuple[float, float, float]:
        dz, dy, dx = self.p.jitter.get(key, (0.0, 0.0, 0.0))
        out = (center[0] + dz, center[1] + dy, center[2] + dx)
        self.centers[key] = out
        return out

    # -- layers ----------------------------------------------------------------------------------------
    def body_layers(self) -> None:
        c, p, bd = self.c, self.p, self.body
        fat = fat_at(p, c.z)
        y = c.y[None, :, None]

        def zslice(keep: np.ndarray) -> slice | None:
            idx = np.flatnonzero(keep)
            return slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else None

        def col(v: np.ndarray, zs: slice) -> np.ndarray:
            return v[zs][:, None, None]

        zs = zslice((bd.a > 0) & (c.z > self.Z(-70)))
        if zs is not None:
            xi = np.flatnonzero(np.abs(c.x) <= float((bd.a[zs] + fat[zs]).max()) + 2)
            xs = slice(int(xi[0]), int(xi[-1]) + 1) if xi.size else slice(None)
            self._rings(zs, xs, c.x[xs][None, None, :], y - col(bd.yc, zs), col(bd.a, zs), col(bd.b, zs),
                        col(fat, zs))
        leg_a = np.interp(c.z, _LEG[:, 0] * p.h, _LEG[:, 1] * p.w, left=0, right=0).astype(np.float32)
        leg_b = np.interp(c.z, _LEG[:, 0] * p.h, _LEG[:, 2] * p.w, left=0, right=0).astype(np.float32)
        leg_y = np.interp(c.z, _LEG[:, 0] * p.h, _LEG[:, 3] * p.w).astype(np.float32)
        zs = zslice((leg_a > 0) & (c.z < self.Z(-40)))
        if zs is not None:
            reach = float(leg_a.max() + fat.max()) + 2
            for side in (-1, 1):
                xc = side * self.X(86)
                xi = np.flatnonzero(np.abs(c.x - xc) <= reach)
                if not xi.size:
                    continue
                xs = slice(int(xi[0]), int(xi[-1]) + 1)
                self._rings(zs, xs, (c.x[xs] - xc)[None, None, :], y - col(leg_y, zs), col(leg_a, zs),
                            col(leg_b, zs), col(fat, zs), fill_only_air=True)
        # abdominal/chest cavity inside the trunk wall
        zs = zslice((c.z > self.Z(-25)) & (c.z < self.Z(590)) & (bd.a > 0))
        if zs is None:
            return
        z = c.z[zs][:, None, None]
        x = c.x[None, None, :]
        ca = col(bd.a, zs) - 22 * p.w
        cb = col(bd.b, zs) - 32 * p.w
        cyc = col(bd.yc, zs) - 14 * p.w
        q = (x / np.maximum(ca, 1)) ** 2 + ((y - cyc) / np.maximum(cb, 1)) ** 2
        sub = c.labels[zs]
        cav = (q <= 1) & (sub == L["muscle"])
        above = z > self.dome(x, y)
        sub[cav & above] = L["mediastinum"]
        sub[cav & ~above] = L["visceral_fat"]

    def _rings(self, zs: slice, xs: slice, x, y, a, b, f, fill_only_air: bool = False) -> None:
        labels = self.c.labels[zs, :, xs]
        skin = 2.0
        r_out = (x / np.maximum(a + f, 1)) ** 2 + (y / np.maximum(b + f, 1)) ** 2
        outer = r_out <= 1
        if fill_only_air:
            outer &= labels == 0
        r_fat = (x / np.maximum(a + f - skin, 1)) ** 2 + (y / np.maximum(b + f - skin, 1)) ** 2
        r_mus = (x / np.maximum(a, 1)) ** 2 + (y / np.maximum(b, 1)) ** 2
        labels[outer] = L["skin"]
        labels[outer & (r_fat <= 1)] = L["fat"]
        labels[outer & (r_mus <= 1)] = L["muscle"]

    def dome(self, x, y):
        """Height of the diaphragm (lower posteriorly and laterally; right dome higher)."""
        p = self.p
        top = np.where(x < 0, p.dome_r * p.h, p.dome_l * p.h)
        u = (np.abs(x) - self.X(70)) / self.X(85)
        _, b, yc = self.cavity(self.Z(330))
        v = (y - yc) / b
        return (top - 55 * u**2 - 35 * v**2 - 25 * v).astype(np.float32)

    # -- chest -----------------------------------------------------------------------------------------
    def lungs(self) -> None:
        c = self.c
        sl = c.box((self.Z(230), -400, -400), (self.Z(585), 400, 400))
        if sl is None:
            return
        z, y, x = c.coords(sl)
        lab = c.labels[sl]
        a, b, yc = self.cavity(self.Z(430))
        mw = np.interp(z, [self.Z(300), self.Z(420), self.Z(520), self.Z(580)], [self.X(40), self.X(38),
                                                                                   self.X(24), self.X(14)])
        apex = self.Z(578)
        lz = (apex + self.Z(250)) / 2
        for side in (-1, 1):
            q = ((z - lz) / ((apex - self.Z(250)) / 2)) ** 2 + ((x - side * self.X(78)) / self.X(92)) ** 2
            v = np.clip((y - yc) / b, -1, 1)
            spindle = mw * (0.45 + 0.75 * (1 - v**2))  # mediastinum widest in the middle, lungs meet front/back
            lung = (lab == L["mediastinum"]) & (q <= 1) & (side * x > spindle) & (z > self.dome(x, y))
            # fissures: oblique (upper lobe anterior-superior), horizontal on the right
            oblique = z > self.Z(400) + 0.9 * (y - yc) + 0.0 * x
            if side < 0:
                lab[lung & ~oblique] = L["lung_rll"]
                lab[lung & oblique & (z >= self.Z(420))] = L["lung_rul"]
                lab[lung & oblique & (z < self.Z(420))] = L["lung_rml"]
            else:
                lab[lung & ~oblique] = L["lung_lll"]
                lab[lung & oblique] = L["lung_lul"]
        # supraclavicular soft tissue above the apices stays muscle (chest cavity ends at the thoracic inlet)
        top = self.c.box((self.Z(545), -400, -400), (self.Z(600), 400, 400))
        if top is not None:
            sub = c.labels[top]
            sub[sub == L["mediastinum"]] = L["muscle"]

    def heart_vessels_airways(self) -> None:
        c, p = self.c, self.p
        over_chest = (L["mediastinum"], *LUNG, L["visceral_fat"])
        _, _, yc = self.cavity(self.Z(390))
        hc = self.j("heart", (self.Z(385), yc - 18 * p.w, self.X(22)))
        hr = np.array([self.Z(62), 56 * p.w, self.X(70)]) * p.heart
        c.ellipsoid(L["myocardium"], hc, hr, over=over_chest)
        c.ellipsoid(L["blood"], (hc[0] + 5, hc[1], hc[2] - 8), hr - (14, 13, 14), over=(L["myocardium"],))
        ys = self.spine_y
        # aorta: root, arch, descending along the spine, bifurcation
        pts = [(hc[0] + 25, hc[1] - 5, self.X(8)), (self.Z(485), yc - 25 * p.w, self.X(0)),
               (self.Z(505), yc, self.X(4)), (self.Z(490), ys(self.Z(490)) - 25, self.X(20)),
               (self.Z(320), ys(self.Z(320)) - 24, self.X(18)), (self.Z(170), ys(self.Z(170)) - 24, self.X(6))]
        c.tube(L["aorta"], pts, [15, 15, 14, 13, 12, 11], over=over_chest + SOFT)
        # iliac and femoral arteries
        for s in (-1, 1):
            ipts = [pts[-1], (self.Z(110), ys(self.Z(110)) - 20, s * self.X(40)),
                    (self.Z(40), -10 * p.w, s * self.X(78)), (self.Z(-40), -50 * p.w, s * self.X(84)),
                    (self.Z(-400), -5 * p.w, s * self.X(80))]
            c.tube(L["artery"], ipts, [8, 7, 6, 5, 4], over=(L["visceral_fat"], L["muscle"], L["fat"]))
            c.tube(L["artery"], [ipts[1], (self.Z(60), 45 * p.w, s * self.X(60))], 4.5, over=(L["visceral_fat"],))
            # carotids and jugulars
            c.tube(L["artery"], [(self.Z(505), yc, s * self.X(12)), (self.Z(690), 0, s * self.X(24))], 4,
                   over=(L["muscle"], L["mediastinum"], *LUNG))
            c.tube(L["vein"], [(self.Z(530), -5 * p.w, s * self.X(30)), (self.Z(690), 5, s * self.X(36))], 6,
                   over=(L["muscle"], L["mediastinum"], *LUNG))
            # pulmonary arteries to the hila
            c.tube(L["artery"], [(hc[0] + 50, yc - 5, self.X(12)), (self.Z(440), yc + 12, s * self.X(58))], 9,
                   over=over_chest)
        # venae cavae
        c.tube(L["vein"], [(self.Z(540), yc - 22, self.X(-28)), (hc[0] + 30, yc - 20, self.X(-26))], 9,
               over=over_chest)
        c.tube(L["vein"], [(hc[0] - 20, yc, self.X(-15)), (self.Z(300), ys(self.Z(300)) - 28, self.X(-28)),
                           (self.Z(170), ys(self.Z(170)) - 20, self.X(-22))], [13, 12, 11],
               over=over_chest + (L["liver"],))
        # airway
        car = (self.Z(462), yc + 2, 0.0)
        c.tube(L["pharynx"], [(self.Z(705), -20 * p.w, 0), (self.Z(640), -22 * p.w, 0)], 8, over=(L["muscle"],))
        c.tube(L["trachea"], [(self.Z(640), -22 * p.w, 0), (self.Z(560), -15 * p.w, 0), car], 9,
               over=(L["muscle"], L["mediastinum"], *LUNG))
        for s in (-1, 1):
            c.tube(L["bronchus"], [car, (self.Z(438), yc + 14, s * self.X(50))], 6,
                   over=(L["mediastinum"], *LUNG, L["artery"]))
        # oesophagus to the stomach
        c.tube(L["esophagus"], [(self.Z(640), -6 * p.w, self.X(3)), (self.Z(460), yc + 18, self.X(6)),
                                (self.Z(320), ys(self.Z(320)) - 40, self.X(12)),
                                (self.p.dome_l * p.h - 30, ys(self.Z(290)) - 55, self.X(35))], 7,
               over=(L["muscle"], L["mediastinum"], *LUNG, L["visceral_fat"]))

    # -- abdomen and pelvis ----------------------------------------------------------------------------
    def abdomen(self) -> None:
        c, p = self.c, self.p
        vf = (L["visceral_fat"],)
        a, b, yc = self.cavity(self.Z(250))
        ys = self.spine_y
        # liver: right upper quadrant, under the right dome
        lc = self.j("liver", (self.Z(255), yc, self.X(-58)))
        got = c.ellipsoid_mask(lc, (self.Z(105), b * 1.05, self.X(118)))
        if got is not None:
            sl, m = got
            z, y, x = c.coords(sl)
            m &= (z > self.Z(175) + 0.25 * (x - lc[2]) + 0.0 * y) | (x < lc[2] - self.X(30))
            c.paint(L["liver"], sl, m, over=vf)
        dl = p.dome_l * p.h
        c.ellipsoid(L["spleen"], self.j("spleen", (dl - 60, yc + 0.55 * b, self.X(98))),
                    (self.Z(52), 36 * p.w, 26 * p.w), over=vf)
        c.ellipsoid(L["stomach"], self.j("stomach", (dl - 50, yc - 0.25 * b, self.X(58))),
                    (self.Z(50), 38 * p.w, 42 * p.w), over=vf)
        for key, s, zc in (("kidney_r", -1, 228), ("kidney_l", 1, 240)):
            kc = self.j(key, (self.Z(zc), ys(self.Z(zc)) - 2, s * self.X(74)))
            c.ellipsoid(L[key], kc, (self.Z(52), 27 * p.w, 30 * p.w), over=vf + (L["liver"], L["spleen"]))
            c.ellipsoid(L["renal_pelvis"], (kc[0], kc[1] - 6, kc[2] - s * 14), (self.Z(16), 9, 10), over=(L[key],))
            adr = (self.Z(zc + 65), ys(self.Z(zc + 65)) - 14, s * self.X(42))
            self.centers[f"adrenal_{'r' if s < 0 else 'l'}"] = adr
            c.ellipsoid(L[f"adrenal_{'r' if s < 0 else 'l'}"], adr, (self.Z(16), 10, 7), over=vf)
        # psoas muscles
        for s in (-1, 1):
            c.tube(L["muscle"], [(self.Z(300), ys(self.Z(300)) - 4, s * self.X(26)),
                                 (self.Z(160), ys(self.Z(160)) - 6, s * self.X(50)),
                                 (self.Z(40), -5 * p.w, s * self.X(85))], [9, 22, 18], over=vf)
        pc = self.j("pancreas", (0, 0, 0))
        c.tube(L["pancreas"], [(self.Z(232) + pc[0], ys(self.Z(232)) - 50 + pc[1], self.X(-22)),
                               (self.Z(242) + pc[0], ys(self.Z(242)) - 58 + pc[1], self.X(30)),
                               (self.Z(258) + pc[0], ys(self.Z(258)) - 20 + pc[1], self.X(88))], 12, over=vf)
        # small bowel loops: a wavy pattern inside the lower abdomen
        got = c.ellipsoid_mask((self.Z(145), yc - 0.2 * b, 0), (self.Z(90), 0.65 * b, 0.8 * a))
        if got is not None:
            sl, m = got
            z, y, x = c.coords(sl)
            wave = np.sin(x / 11.0) * np.sin((y + 3) / 10.0) + np.sin((z + 5) / 12.0) * np.cos(x / 17.0)
            c.paint(L["small_bowel"], sl, m & (wave > -0.35), over=vf)
        # colon frame and rectum
        ca, cb, cyc = self.cavity(self.Z(160))
        sac = self.spine_y(self.Z(60))
        colon = [(self.Z(80), cyc + 0.1 * cb, -0.75 * ca), (self.Z(215), cyc, -0.72 * ca),
                 (self.Z(222), cyc - 0.7 * cb, -0.3 * ca), (self.Z(228), cyc - 0.7 * cb, 0.35 * ca),
                 (self.Z(250), cyc + 0.1 * cb, 0.72 * ca), (self.Z(110), cyc + 0.15 * cb, 0.75 * ca),
                 (self.Z(55), -20 * p.w, self.X(40)), (self.Z(45), sac - 28, 0.0), (self.Z(-25), sac - 20, 0.0)]
        c.tube(L["colon"], colon, [20, 22, 20, 20, 21, 18, 15, 15, 13], over=vf + (L["small_bowel"],))
        self.paths["colon"] = colon
        # bladder and pelvic organ
        bl = self.j("bladder", (self.Z(25) + 8 * p.bladder, -30 * p.w, 0.0))
        c.ellipsoid(L["bladder"], bl, np.array([self.Z(36), 40 * p.w, 48 * p.w]) * p.bladder,
                    over=vf + (L["small_bowel"], L["colon"], L["muscle"]))
        if p.sex == "M":
            self.centers["prostate"] = (self.Z(-18), -18 * p.w, 0.0)
            c.ellipsoid(L["prostate"], self.centers["prostate"], (self.Z(17), 15, 19),
                        over=(*vf, L["muscle"], L["fat"]))
        else:
            c.ellipsoid(L["uterus"], (bl[0] + self.Z(30), bl[1] + 35, 0.0), (self.Z(30), 22, 35),
                        over=vf + (L["small_bowel"], L["colon"]))
        # breasts
        zb = self.Z(420)
        ab, bb, ycb = self.prof(zb)
        for s in (-1, 1):
            front = ycb - bb
            if p.sex == "F":  # glandular tissue in a thicker anterior fat layer
                c.ellipsoid(L["fat"], (zb - 20, front, s * self.X(85)), (self.Z(60), p.fat + 14, 75),
                            over=(L["muscle"],))
                c.ellipsoid(L["breast"], (zb - 20, front - 0.5 * p.fat, s * self.X(85)),
                            (self.Z(42), 0.45 * p.fat + 6, 48), over=(L["fat"],))
            else:
                c.ellipsoid(L["breast"], (zb - 20, front - 0.5 * p.fat, s * self.X(88)), (self.Z(28), 6, 30),
                            over=(L["fat"],))

    def head(self) -> None:
        c, p = self.c, self.p
        hc = (self.Z(792), -8 * p.w, 0.0)
        c.ellipsoid(L["skull"], hc, (self.Z(98), 98 * p.w, 74 * p.w), over=(L["muscle"], L["fat"]), shell=7)
        got = c.ellipsoid_mask(hc, (self.Z(91), 91 * p.w, 67 * p.w))
        if got is not None:
            sl, m = got
            z, _, _ = c.coords(sl)
            c.paint(L["brain"], sl, m & (z > self.Z(712)), over=(L["muscle"],))
        self.centers["pituitary"] = (self.Z(740), -12 * p.w, 0.0)
        c.ellipsoid(L["pituitary"], self.centers["pituitary"], (6, 6, 7), over=(L["muscle"], L["brain"]))
        for s in (-1, 1):
            c.ellipsoid(L["eye"], (self.Z(768), -80 * p.w, s * self.X(32)), (12, 12, 12), over=(L["muscle"],))
            c.ellipsoid(L["parotid"], (self.Z(690), 8 * p.w, s * self.X(52)), (self.Z(26), 20, 12),
                        over=(L["muscle"], L["fat"]))
            c.ellipsoid(L["submandibular"], (self.Z(650), -36 * p.w, s * self.X(36)), (11, 12, 11),
                        over=(L["muscle"],))
            c.ellipsoid(L["tonsil"], (self.Z(675), -8 * p.w, s * self.X(14)), (9, 8, 7), over=(L["muscle"],))
            c.ellipsoid(L["thyroid"], self.j("thyroid", (self.Z(600), -34 * p.w, s * self.X(18))),
                        (self.Z(22), 10, 10), over=(L["muscle"],))
            c.tube(L["other_bone"], [(self.Z(695), 10 * p.w, s * self.X(50)), (self.Z(652), -40 * p.w, s * self.X(44)),
                                     (self.Z(646), -82 * p.w, 0.0)], 7, over=(L["muscle"], L["fat"]))

    # -- lymph-node stations ---------------------------------------------------------------------------
    def node_stations(self) -> None:
        c, p = self.c, self.p
        soft = (L["muscle"], L["fat"], L["visceral_fat"])
        ys = self.spine_y
        a5, _, _ = self.prof(self.Z(478))
        _, bm, ycm = self.cavity(self.Z(460))
        _, bc, ycc = self.cavity(self.Z(190))
        for s, side in ((-1, "r"), (1, "l")):
            fi = self.prof(self.Z(-28))
            st = {
                "cervical": ((self.Z(630), -2 * p.w, s * self.X(44)), (self.Z(48), 14, 12), soft),
                "supraclavicular": ((self.Z(566), 4 * p.w, s * self.X(58)), (self.Z(14), 16, 22), soft),
                "axillary": ((self.Z(478), 14 * p.w, s * (a5 - 28 * p.w)), (self.Z(38), 30, 20), soft),
                "hilar": ((self.Z(438), ycm + 16, s * self.X(62)), (self.Z(22), 16, 13),
                          (L["mediastinum"], *LUNG)),
                "retroperitoneal": ((self.Z(205), ys(self.Z(205)) - 26, s * self.X(34)), (self.Z(55), 13, 11),
                                    soft),
                "common_iliac": ((self.Z(135), ys(self.Z(135)) - 22, s * self.X(44)), (self.Z(26), 12, 13),
                                 soft + (L["small_bowel"], L["colon"])),
                "external_iliac": ((self.Z(52), -4 * p.w, s * self.X(80)), (self.Z(30), 13, 12),
                                   soft + (L["small_bowel"], L["colon"])),
                "internal_iliac": ((self.Z(62), 42 * p.w, s * self.X(60)), (self.Z(24), 13, 12),
                                   soft + (L["small_bowel"], L["colon"])),
                "inguinal": ((self.Z(-28), fi[2] - fi[1] - 0.45 * p.fat, s * self.X(86)),
                             (self.Z(24), max(8.0, 0.45 * p.fat), 24), soft),
            }
            for name, (center, radii, over) in st.items():
                key = f"node_{name}_{side}"
                self.centers[key] = center
                c.ellipsoid(L[key], center, radii, over=over)
        self.centers["node_mediastinal"] = (self.Z(465), ycm - 0.05 * bm, 0.0)
        c.ellipsoid(L["node_mediastinal"], self.centers["node_mediastinal"], (self.Z(60), 30, 32),
                    over=(L["mediastinum"],))
        self.centers["node_mesenteric"] = (self.Z(188), ycc - 0.25 * bc, self.X(12))
        c.ellipsoid(L["node_mesenteric"], self.centers["node_mesenteric"], (self.Z(30), 24, 28),
                    over=(L["visceral_fat"], L["small_bowel"]))


@dataclass
class Anatomy:
    """The painted site map and what the generator needs to know about it."""

    site_map: np.ndarray
    grid: Grid
    levels: dict[str, tuple[float, float]]  # vertebral level -> (z_low, z_high) mm
    centers: dict[str, tuple[float, float, float]]  # nominal centres of small structures (zyx mm)


def build_anatomy(params: AnatomyParams, grid: Grid, version: int = 1) -> Anatomy:
    """Paint the whole anatomy on ``grid``; order matters (later structures overwrite earlier ones).

    ``version=2`` splits and completes it with the structures of the whole vocabulary (phantom.anatomy2)."""
    painter = _Painter(params, grid)
    painter.body_layers()
    painter.lungs()
    painter.abdomen()
    painter.heart_vessels_airways()
    painter.head()
    painter.skeleton()
    painter.node_stations()
    if version >= 2:
        from .anatomy2 import paint_version2

        paint_version2(painter)
    return Anatomy(painter.c.labels, grid, painter.levels, painter.centers)
