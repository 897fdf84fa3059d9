"""The skeleton and arms of the phantom: vertebrae with levels, ribs, sternum, shoulder girdle, pelvis,
femora, tibiae, and (whole body) arms. A mixin of the anatomy painter, which provides the canvas, the
patient's build and the scaled anchors (``Z``, ``X``, ``prof``, ``cavity``, ``spine_y``).
"""

from __future__ import annotations

import numpy as np

from .labels import LUNG, SOFT, L

_LEVELS = [(f"C{i}", 16.0) for i in range(1, 8)] + [(f"T{i}", 24.0) for i in range(1, 13)] + [
    (f"L{i}", 34.0) for i in range(1, 6)
]
_SPINE_TOP = 690.0


def arm_x(p) -> float:
    """Lateral position of the arms' axis (whole body, arms down)."""
    return 185 * p.w + p.fat + 55 * p.w


class SkeletonPainter:
    """Paints bones; expects ``self.c`` (Canvas), ``self.p`` (AnatomyParams) and the anchor methods."""

    # -- skeleton --------------------------------------------------------------------------------------
    def skeleton(self) -> None:
        c, p = self.c, self.p
        soft = (*SOFT, L["visceral_fat"], *LUNG, L["small_bowel"], L["colon"])
        z_top = self.Z(_SPINE_TOP)
        for name, height in _LEVELS:
            hz = height * p.h
            z0, z1 = z_top - hz, z_top
            zc = (z0 + z1) / 2
            self.levels[name] = (z0, z1)
            ry = {"C": 8, "T": 13, "L": 17}[name[0]] * p.w
            rx = {"C": 10, "T": 15, "L": 21}[name[0]] * p.w
            y0 = self.spine_y(zc)
            disc = {"C": 3, "T": 4, "L": 7}[name[0]]
            sl = c.box((z0 + disc / 2, y0 - ry, -rx), (z1 - disc / 2, y0 + ry, rx))
            if sl is not None:
                _, y, x = c.coords(sl)
                m = ((y - y0) / ry) ** 2 + (x / rx) ** 2 <= 1
                c.paint(L["vertebra"], sl, np.broadcast_to(m, c.labels[sl].shape).copy(), over=soft)
            canal = y0 + ry + 8
            c.tube(L["vertebra"], [(zc, canal, 0), (zc - 4, canal + 26 * p.w, 0)], 5, over=soft)
            for s in (-1, 1):
                c.tube(L["vertebra"], [(zc, y0 + ry, s * 6), (zc, canal + 6, s * 14), (zc, canal, s * 28 * p.w)],
                       5, over=soft)
            if name.startswith("T"):
                self._rib(int(name[1:]), zc, y0, canal)
            z_top = z0
        self.levels["S"] = (self.Z(20), z_top)
        c.tube(L["spinal_canal"], [(self.Z(_SPINE_TOP), self.spine_y(self.Z(650)) + 16, 0),
                                   (self.Z(560), self.spine_y(self.Z(560)) + 20, 0),
                                   (self.Z(400), self.spine_y(self.Z(400)) + 21, 0),
                                   (z_top + 20, self.spine_y(z_top + 20) + 25, 0)], 7,
               over=soft)
        # sacrum, pelvis, hips, femora
        sy = self.spine_y(self.Z(70))
        c.ellipsoid(L["sacrum"], (self.Z(70), sy + 8, 0), (self.Z(58), 20 * p.w, self.X(46)), over=soft)
        bowl = c.ellipsoid_mask((self.Z(95), 8 * p.w, 0), (self.Z(72), 78 * p.w, self.X(148)), shell=10)
        if bowl is not None:
            sl, m = bowl
            z, y, x = c.coords(sl)
            m &= (z > self.Z(55)) & (y > -45 * p.w) & (np.abs(x) > self.X(48))
            c.paint(L["pelvic_bone"], sl, m, over=soft)
        for s in (-1, 1):
            head = (0.0, 10 * p.w, s * self.X(95))
            c.ellipsoid(L["pelvic_bone"], head, (33, 33, 33), over=soft + (L["bladder"],))
            c.ellipsoid(L["femur"], head, (24, 24, 24), over=(L["pelvic_bone"],) + soft)
            c.tube(L["pelvic_bone"], [(self.Z(65), 15 * p.w, s * self.X(112)), head], 17, over=soft)
            c.tube(L["pelvic_bone"], [head, (self.Z(-22), -62 * p.w, s * self.X(14))], 10, over=soft + (L["bladder"],))
            c.tube(L["pelvic_bone"], [head, (self.Z(-60), 32 * p.w, s * self.X(58))], 12, over=soft)
            troch = (self.Z(-25), 12 * p.w, s * self.X(128))
            knee = (self.Z(-440), 0.0, s * self.X(92))
            c.tube(L["femur"], [head, troch, (self.Z(-120), 8, s * self.X(112)), knee], [16, 18, 14, 14], over=soft)
            c.ellipsoid(L["femur"], knee, (self.Z(28), 30, 38), over=soft)
            c.tube(L["leg_bone"], [(self.Z(-470), 0.0, s * self.X(90)), (self.Z(-860), 15.0, s * self.X(88))],
                   [17, 11], over=soft)
            # shoulder girdle
            front = self.cavity(self.Z(520))[2] - self.cavity(self.Z(520))[1]
            c.tube(L["other_bone"], [(self.Z(548), front + 2, s * self.X(14)), (self.Z(556), front + 20, s * self.X(80)),
                                     (self.Z(566), 15.0, s * self.X(155))], 7, over=soft)
            _, bsc, ycs = self.prof(self.Z(470))
            c.ellipsoid(L["other_bone"], (self.Z(470), ycs + bsc - 32 * p.w, s * self.X(100)),
                        (self.Z(70), 6, self.X(48)), over=soft)
            c.ellipsoid(L["other_bone"], (self.Z(548), 10.0, s * self.X(172)), (22, 22, 22), over=soft)
        front = self.cavity(self.Z(470))[2] - self.cavity(self.Z(470))[1]
        c.tube(L["sternum"], [(self.Z(548), front - 4, 0), (self.Z(400), front - 2, 0)], 10, over=soft)
        if p.whole_body:
            self._arms()

    def _rib(self, k: int, zc: float, y0: float, canal: float) -> None:
        c = self.c
        zw = zc - 8 if k > 1 else zc - 25
        a, b, yc = self.cavity(max(zw, self.Z(300)))
        a += 6
        b += 6
        end = 2.75 if k <= 7 else (2.35 if k <= 10 else 1.5)
        drop = self.Z(65) if k <= 10 else self.Z(30)
        phis = np.linspace(0.28, end, 9)
        for s in (-1, 1):
            pts = [(zc, y0 + 4, s * 18.0)]
            for phi in phis:
                pts.append((zc - drop * (1 - np.cos(phi)) / 2, yc + b * np.cos(phi), s * a * np.sin(phi)))
            c.tube(L["rib"], pts, 5.0, over=(*SOFT, L["visceral_fat"], *LUNG))
            if hasattr(self, "paths"):
                self.paths[f"rib_{k}_{'r' if s < 0 else 'l'}"] = pts
        del canal

    def _arms(self) -> None:
        c, p = self.c, self.p
        xa = arm_x(p)
        for s in (-1, 1):
            pts = [(self.Z(540), 10.0, s * (xa - 20)), (self.Z(260), 15.0, s * xa), (self.Z(20), -5.0, s * xa),
                   (self.Z(-150), -5.0, s * xa)]
            shoulder = (self.Z(530), 8.0, s * (xa - 38))
            c.ellipsoid(L["skin"], shoulder, (60, 52, 58), over=(0,))
            c.ellipsoid(L["fat"], shoulder, (58, 50, 56), over=(L["skin"],))
            c.ellipsoid(L["muscle"], shoulder, (52, 44, 50), over=(L["fat"],))
            c.tube(L["skin"], pts, [48, 40, 31, 26], over=(0,))
            c.tube(L["fat"], pts, [46, 38, 29, 24], over=(L["skin"],))
            c.tube(L["muscle"], pts, [40, 33, 25, 20], over=(L["fat"],))
            c.tube(L["other_bone"], pts[:2], [14, 11], over=(L["muscle"],))
            c.tube(L["leg_bone"], pts[1:3], [9, 8], over=(L["muscle"],))
