"""Version 2 of the phantom's anatomy: the first anatomy split into parts and completed with what the whole
vocabulary needs.

It runs after the first painter (phantom.anatomy), on its canvas and with its anchors, so a version-2 body
is the version-1 body of the same patient with more labels: every vertebral level, rib, brain lobe, colon
segment, part of the stomach, oesophagus, small bowel, pelvis, femur and humerus, skull base, limb
compartments, named muscles; and new structures: pleura, peritoneal lining and recesses, omentum,
pericardium, gallbladder, bladder wall, seminal vesicles or ovaries, testes in a scrotum, anal canal,
nasopharynx, larynx, duodenum, hand bones, and the nodal stations of the internal mammary, obturator,
popliteal, epitrochlear, porta hepatis, coeliac, retrocrural, presacral, retropharyngeal, cardiophrenic,
gastrohepatic, peripancreatic and mesorectal groups. Labels are phantom.labels2's.
"""

from __future__ import annotations

import numpy as np

from .labels import LUNG, SOFT, L
from .labels2 import L2
from .skeleton import arm_x

_VF = (L["visceral_fat"],)


def paint_version2(pt) -> None:
    """Split and complete the anatomy painted by ``pt`` (a phantom.anatomy painter), in place."""
    _organs(pt)
    _stations(pt)
    _bones(pt)
    _split_hollow_organs(pt)
    _brain(pt)
    _muscles(pt)
    _linings(pt)


def _where(pt, key: str):
    """(index arrays, z, y, x mm) of the voxels labelled ``key``."""
    idx = np.nonzero(pt.c.labels == L2[key])
    return idx, pt.c.z[idx[0]], pt.c.y[idx[1]], pt.c.x[idx[2]]


def _relabel(pt, idx, values: np.ndarray) -> None:
    pt.c.labels[idx] = values.astype(np.uint8)


def _nearest_on_lines(lines: list, points: np.ndarray, step: float = 2.0):
    """For each point, the nearest of a few polylines sampled every ``step`` mm: (stretch index within its
    line, line index, position 0..1 along that stretch)."""
    from scipy.spatial import cKDTree

    samples, stretch, line, frac = [], [], [], []
    for k, pts in enumerate(lines):
        arr = np.asarray(pts, float)
        for i, (a, b) in enumerate(zip(arr[:-1], arr[1:], strict=True)):
            n = max(2, int(np.linalg.norm(b - a) / step) + 1)
            t = np.linspace(0, 1, n)
            samples.append(a + t[:, None] * (b - a))
            stretch += [i] * n
            line += [k] * n
            frac.append(t)
    _, nearest = cKDTree(np.concatenate(samples)).query(points)
    return np.asarray(stretch)[nearest], np.asarray(line)[nearest], np.concatenate(frac)[nearest]


def _organs(pt) -> None:
    c, p = pt.c, pt.p
    a, b, yc = pt.cavity(pt.Z(250))
    # organs the first painter may leave under a large liver: the adrenals, the hepatic flexure
    for key in ("adrenal_r", "adrenal_l"):
        if key in pt.centers:
            c.ellipsoid(L[key], pt.centers[key], (pt.Z(16), 10, 7), over=_VF + (L["liver"],))
    if "colon" in pt.paths:
        c.tube(L["colon"], pt.paths["colon"][:4], [20, 22, 20, 20], over=(L["liver"],))
    if "stomach" in pt.centers:  # the whole stomach, its lesser curvature side too
        c.ellipsoid(L["stomach"], pt.centers["stomach"], (pt.Z(50), 38 * p.w, 42 * p.w), over=(L["liver"],))
    # gallbladder under the liver, bladder wall, pelvic organs
    c.ellipsoid(L2["gallbladder"], (pt.Z(212), yc - 0.5 * b, pt.X(-42)), (pt.Z(28), 13, 13),
                over=_VF + (L["liver"],))
    bl = pt.centers.get("bladder")
    if bl is not None:
        radii = np.array([pt.Z(36), 40 * p.w, 48 * p.w]) * p.bladder
        c.ellipsoid(L2["bladder_wall"], bl, radii, over=(L["bladder"],), shell=5.0)
        if p.sex == "M":
            for s in (-1, 1):
                c.ellipsoid(L2["seminal_vesicle"], (bl[0] - pt.Z(8), bl[1] + radii[1] + 6, s * pt.X(22)),
                            (pt.Z(10), 6, 14), over=_VF + (L["muscle"], L["colon"]))
        else:
            for s, key in ((-1, "ovary_r"), (1, "ovary_l")):
                c.ellipsoid(L2[key], (bl[0] + pt.Z(28), bl[1] + 28, s * pt.X(62)), (pt.Z(14), 11, 10),
                            over=_VF + (L["small_bowel"], L["colon"]))
    if p.sex == "M":  # scrotum between the thighs, testes inside
        scro = (pt.Z(-95), -52 * p.w, 0.0)
        c.ellipsoid(L["skin"], scro, (pt.Z(40), 32, 40), over=(0,))
        c.ellipsoid(L["fat"], scro, (pt.Z(38), 30, 38), over=(L["skin"],))
        for s, key in ((-1, "testis_r"), (1, "testis_l")):
            c.ellipsoid(L2[key], (pt.Z(-100), -52 * p.w, s * pt.X(17)), (pt.Z(21), 13, 12),
                        over=(L["fat"], L["skin"], L["muscle"]))
    sac = pt.spine_y(pt.Z(60))
    c.tube(L2["anal_canal"], [(pt.Z(-22), sac - 20, 0.0), (pt.Z(-62), sac - 8, 0.0)], 10,
           over=(*SOFT, L["visceral_fat"]))
    # duodenum: a C around the pancreatic head
    ys = pt.spine_y
    c.tube(L2["duodenum"], [(pt.Z(262), ys(pt.Z(262)) - 62, pt.X(-8)), (pt.Z(252), ys(pt.Z(252)) - 58, pt.X(-46)),
                            (pt.Z(212), ys(pt.Z(212)) - 52, pt.X(-48)), (pt.Z(200), ys(pt.Z(200)) - 50, pt.X(-8)),
                            (pt.Z(206), ys(pt.Z(206)) - 52, pt.X(22))], 11,
           over=_VF + (L["small_bowel"], L["colon"], L["liver"]))
    # head and neck soft tissue
    c.ellipsoid(L2["nasopharynx"], (pt.Z(713), -14 * p.w, 0.0), (pt.Z(12), 10, 16), over=(L["muscle"],))
    c.ellipsoid(L2["larynx"], (pt.Z(628), -22 * p.w, 0.0), (pt.Z(22), 16, 18), over=(L["muscle"],))
    # pericardium: a shell just outside the heart
    hc = pt.centers.get("heart")
    if hc is not None:
        hr = np.array([pt.Z(62), 56 * p.w, pt.X(70)]) * p.heart
        c.ellipsoid(L2["pericardium"], hc, hr + 5, over=(L["mediastinum"], *LUNG, L["visceral_fat"]), shell=5.0)


def _stations(pt) -> None:
    c, p = pt.c, pt.p
    soft = (L["muscle"], L["fat"], L["visceral_fat"], L["mediastinum"])
    ys = pt.spine_y
    _, b, yc = pt.cavity(pt.Z(460))
    _, bc, ycc = pt.cavity(pt.Z(250))
    dl = p.dome_l * p.h
    pairs = {
        "internal_mammary": ((pt.Z(455), yc - b + 14, pt.X(30)), (pt.Z(40), 8, 8), soft + LUNG),
        "obturator": ((pt.Z(22), 6 * p.w, pt.X(64)), (pt.Z(16), 10, 9), soft + (L["small_bowel"], L["colon"])),
        "popliteal": ((pt.Z(-425), 34.0, pt.X(92)), (pt.Z(20), 9, 10), soft),
        "retropharyngeal": ((pt.Z(688), -6 * p.w, pt.X(16)), (pt.Z(10), 6, 6), soft),
        "cardiophrenic": ((pt.Z(352), ycc - 0.55 * bc, pt.X(62)), (pt.Z(12), 10, 10), soft + LUNG),
    }
    for name, (center, radii, over) in pairs.items():
        for s, side in ((-1, "r"), (1, "l")):
            at = (center[0], center[1], s * center[2])
            pt.centers[f"node_{name}_{side}"] = at
            c.ellipsoid(L2[f"node_{name}_{side}"], at, radii, over=over)
    if pt.p.whole_body:
        xa = arm_x(p)
        for s, side in ((-1, "r"), (1, "l")):
            at = (pt.Z(285), 12.0, s * (xa - 30))
            pt.centers[f"node_epitrochlear_{side}"] = at
            c.ellipsoid(L2[f"node_epitrochlear_{side}"], at, (12, 8, 7), over=(L["fat"], L["muscle"]))
    single = {
        "porta_hepatis": ((pt.Z(228), ycc + 0.05 * bc, pt.X(-22)), (pt.Z(15), 11, 11), _VF + (L["liver"],)),
        "celiac": ((pt.Z(264), ys(pt.Z(264)) - 46, pt.X(8)), (pt.Z(13), 9, 10), _VF + (L["liver"],)),
        "retrocrural": ((pt.Z(300), ys(pt.Z(300)) - 14, pt.X(-14)), (pt.Z(18), 7, 7), soft + LUNG),
        "presacral": ((pt.Z(72), ys(pt.Z(72)) - 28, 0.0), (pt.Z(18), 7, 14), _VF),
        "gastrohepatic": ((dl - 38, ycc - 0.4 * bc, pt.X(18)), (pt.Z(13), 9, 10), _VF + (L["liver"],)),
        "peripancreatic": ((pt.Z(216), ys(pt.Z(216)) - 38, pt.X(-38)), (pt.Z(11), 9, 9), _VF + (L["liver"],)),
        "mesorectal": ((pt.Z(18), pt.spine_y(pt.Z(60)) - 8, pt.X(16)), (pt.Z(12), 7, 7), _VF + (L["muscle"],)),
    }
    for name, (center, radii, over) in single.items():
        pt.centers[f"node_{name}"] = center
        c.ellipsoid(L2[f"node_{name}"], center, radii, over=over)


def _bones(pt) -> None:
    c, p = pt.c, pt.p
    # vertebral levels and sacral segments by height
    idx, z, _, _ = _where(pt, "vertebra")
    names = [k for k in pt.levels if k != "S"]
    if idx[0].size and names:
        mids = np.array([(pt.levels[k][0] + pt.levels[k][1]) / 2 for k in names])
        nearest = np.argmin(np.abs(z[:, None] - mids[None, :]), axis=1)
        _relabel(pt, idx, np.array([L2[f"vertebra_{names[i].lower()}"] for i in range(len(names))])[nearest])
    idx, z, _, _ = _where(pt, "sacrum")
    if idx[0].size:
        top, bottom = float(z.max()), float(z.min())
        seg = np.clip(((top - z) / max(top - bottom, 1.0) * 5.6).astype(int), 0, 5)
        _relabel(pt, idx, np.array([L2[f"sacrum_s{i}"] for i in range(1, 6)] + [L2["coccyx"]])[seg])
    # ribs: the nearest rib centre line
    idx, z, y, x = _where(pt, "rib")
    if idx[0].size:
        lines = {key: pts for key, pts in pt.paths.items() if key.startswith("rib_")}
        owner = np.array([int(key.split("_")[1]) for key in lines])
        _, which, _ = _nearest_on_lines(list(lines.values()), np.stack([z, y, x], axis=1))
        _relabel(pt, idx, np.array([0] + [L2[f"rib_{k}"] for k in range(1, 13)])[owner[which]])
    # pelvis: acetabulum around the femoral heads, pubis in front and ischium behind below them, ilium above
    idx, z, y, x = _where(pt, "pelvic_bone")
    if idx[0].size:
        head_x = pt.X(95)
        near_head = np.sqrt(z**2 + (y - 10 * p.w) ** 2 + (np.abs(x) - head_x) ** 2) < 38
        low = z < pt.Z(-6)
        out = np.where(near_head, L2["acetabulum"],
                       np.where(low & (y < -18 * p.w), L2["pubis"], np.where(low, L2["ischium"], L2["ilium"])))
        _relabel(pt, idx, out)
    idx, z, _, _ = _where(pt, "femur")
    if idx[0].size:
        _relabel(pt, idx, np.where(z > pt.Z(-120), L2["femur_proximal"],
                                   np.where(z < pt.Z(-380), L2["femur_distal"], L2["femur_shaft"])))
    idx, z, _, _ = _where(pt, "skull")
    if idx[0].size:
        _relabel(pt, idx, np.where(z < pt.Z(735), L2["skull_base"], L["skull"]))
    # shoulder girdle, mandible and arm bones (all "other bone" in version 1)
    xa = arm_x(p)
    if p.whole_body:  # hand bones below the wrist
        for s in (-1, 1):
            c.tube(L2["hand_bones"], [(pt.Z(15), -5.0, s * xa), (pt.Z(-110), -5.0, s * xa)], 7, over=(L["muscle"],))
    idx, z, y, x = _where(pt, "other_bone")
    if idx[0].size:
        ax = np.abs(x)
        arm = (ax > pt.X(150)) | (p.whole_body & (ax > xa - 42) & (z < pt.Z(560)))
        humerus = np.where(z > pt.Z(470), L2["humerus_proximal"],
                           np.where(z < pt.Z(330), L2["humerus_distal"], L2["humerus_shaft"]))
        out = np.where(z > pt.Z(600), L2["mandible"],
                       np.where(arm, humerus, np.where(y > 0, L2["scapula"], L2["clavicle"])))
        _relabel(pt, idx, out)
    idx, z, _, x = _where(pt, "leg_bone")
    if idx[0].size:
        ax = np.abs(x)
        in_arm = z > pt.Z(-300)
        lateral_leg = ax > pt.X(90) + 6
        out = np.where(in_arm, np.where(ax >= xa, L2["radius"], L2["ulna"]),
                       np.where(z < pt.Z(-845), L2["foot_bones"], np.where(lateral_leg, L2["fibula"], L2["tibia"])))
        _relabel(pt, idx, out)


def _split_hollow_organs(pt) -> None:
    p = pt.p
    # colon: by the nearest stretch of its centre line
    idx, z, y, x = _where(pt, "colon")
    path = pt.paths.get("colon")
    if idx[0].size and path:
        seg, _, tt = _nearest_on_lines([path], np.stack([z, y, x], axis=1))
        names = np.select(
            [(seg == 0) & (tt < 0.3), seg == 0, seg == 1, (seg == 2) & (tt < 0.12), (seg == 2) & (tt > 0.88),
             seg == 2, seg == 3, seg == 4, (seg == 5) | (seg == 6)],
            ["cecum", "ascending", "hepatic_flexure", "hepatic_flexure", "splenic_flexure", "transverse",
             "splenic_flexure", "descending", "sigmoid"], default="rectum")
        names = np.where(z < pt.Z(38), "rectum", names)
        _relabel(pt, idx, np.vectorize(lambda k: L2[f"colon_{k}"])(names))
    # stomach: by position in its ellipsoid (fundus up and out, cardia up and in, antrum and pylorus low and in)
    idx, z, y, x = _where(pt, "stomach")
    sc = pt.centers.get("stomach")
    if idx[0].size and sc is not None:
        fz = (z - sc[0]) / pt.Z(50)
        fx = (x - sc[2]) / (42 * p.w)
        out = np.select([(fz < -0.25) & (fx < -0.4), fz < -0.2, (fz > 0.35) & (fx < -0.3), fz > 0.35],
                        [L2["stomach_pylorus"], L2["stomach_antrum"], L2["stomach_cardia"], L2["stomach_fundus"]],
                        default=L2["stomach_body"])
        _relabel(pt, idx, out)
    # oesophagus: by height; the last 2.5 cm before the stomach is the junction
    idx, z, y, x = _where(pt, "esophagus")
    if idx[0].size:
        end = np.array([p.dome_l * p.h - 30, pt.spine_y(pt.Z(290)) - 55, pt.X(35)])
        near_end = np.sqrt((z - end[0]) ** 2 + (y - end[1]) ** 2 + (x - end[2]) ** 2) < 25
        out = np.select([near_end, z > pt.Z(560), z > pt.Z(500), z > pt.Z(405)],
                        [L2["esophagus_gej"], L2["esophagus_cervical"], L2["esophagus_upper"], L2["esophagus_mid"]],
                        default=L2["esophagus_distal"])
        _relabel(pt, idx, out)
    # small bowel: jejunum upper left, terminal ileum lower right, ileum between
    idx, z, _, x = _where(pt, "small_bowel")
    if idx[0].size:
        a, _, _ = pt.cavity(pt.Z(145))
        out = np.select([(x < -0.3 * a) & (z < pt.Z(115)), (x > 0) & (z > pt.Z(140))],
                        [L2["bowel_terminal_ileum"], L2["bowel_jejunum"]], default=L2["bowel_ileum"])
        _relabel(pt, idx, out)


def _brain(pt) -> None:
    idx, z, y, x = _where(pt, "brain")
    if not idx[0].size:
        return
    p = pt.p
    dz, dy, ax = z - pt.Z(792), y + 8 * p.w, np.abs(x)
    out = np.select(
        [(ax < 13) & (dz < -48) & (np.abs(dy - 12) < 20), (dz < -38) & (dy > 12),
         (ax > 8) & (ax < 30) & (np.abs(dz + 4) < 16) & (np.abs(dy) < 22), (ax > 42) & (dz < -8) & (dy < 35),
         dy > 42, dy < -22],
        [L2["brain_brainstem"], L2["brain_cerebellum"], L2["brain_basal_ganglia"], L2["brain_temporal"],
         L2["brain_occipital"], L2["brain_frontal"]], default=L2["brain_parietal"])
    _relabel(pt, idx, out)


def _muscles(pt) -> None:
    c, p = pt.c, pt.p
    ys = pt.spine_y
    for s in (-1, 1):  # the psoas tubes, as the first painter drew them in plain muscle
        c.tube(L2["psoas"], [(pt.Z(300), ys(pt.Z(300)) - 4, s * pt.X(26)), (pt.Z(160), ys(pt.Z(160)) - 6, s * pt.X(50)),
                             (pt.Z(40), -5 * p.w, s * pt.X(85))], [9, 22, 18], over=(L["muscle"],))
    idx, z, y, x = _where(pt, "muscle")
    if not idx[0].size:
        return
    ax = np.abs(x)
    zi = idx[0]
    _, front, _ = pt.cavity(pt.Z(470))
    spine = np.interp(z, pt.c.z, [ys(float(v)) for v in pt.c.z]) if zi.size else z
    trunk = ax < 150 * p.w
    paraspinal = trunk & (y > spine + 8) & (ax < 62 * p.w) & (z > pt.Z(40)) & (z < pt.Z(560))
    gluteal = (z > pt.Z(-60)) & (z < pt.Z(110)) & (y > 15) & (ax > 28) & (ax < 150 * p.w)
    _, bchest, ycchest = pt.cavity(pt.Z(470))
    pectoral = (z > pt.Z(420)) & (z < pt.Z(545)) & (y < ycchest - bchest) & (ax > 22) & trunk
    out = np.select([paraspinal, gluteal, pectoral], [L2["paraspinal"], L2["gluteal"], L2["pectoralis"]],
                    default=L["muscle"])
    # limbs: legs below the groin, arms (whole body) lateral to the trunk
    leg = z < pt.Z(-62)
    xb = pt.X(91)
    dxl = ax - xb  # lateral offset from the bone axis
    dy = y - 8.0
    dist = np.sqrt(dxl**2 + dy**2) + 1e-3
    thigh = np.select([dxl < -0.55 * dist, dy > 0.2 * dist], [L2["limb_thigh_medial"], L2["limb_thigh_posterior"]],
                      default=L2["limb_thigh_anterior"])
    calf = np.select([dy > 0.25 * dist, dxl > 0.45 * dist], [L2["limb_leg_posterior"], L2["limb_leg_lateral"]],
                     default=L2["limb_leg_anterior"])
    legs = np.select([z < pt.Z(-848), z < pt.Z(-455)], [L2["limb_foot"], calf], default=thigh)
    out = np.where(leg, legs, out)
    if p.whole_body:
        xa = arm_x(p)
        arm = (ax > xa - 45) & (z < pt.Z(540))
        upper = np.where(y < 12, L2["limb_upper_arm_anterior"], L2["limb_upper_arm_posterior"])
        arms = np.select([z < pt.Z(18), z < pt.Z(262)], [L2["limb_hand"], L2["limb_forearm"]], default=upper)
        out = np.where(arm & ~leg, arms, out)
    _relabel(pt, idx, out)


def _linings(pt) -> None:
    """Pleura, peritoneal lining and recesses, omentum: thin layers found next to what they line."""
    from scipy.ndimage import binary_dilation

    c = pt.c
    lab = c.labels
    lung = np.isin(lab, LUNG)
    wall_values = [L["muscle"], L["fat"], L["rib"], L["visceral_fat"], L["liver"], L["spleen"]]
    wall_values += [L2[f"rib_{k}"] for k in range(1, 13)] + [L2["pectoralis"], L2["paraspinal"]]
    wall = np.isin(lab, wall_values)
    lab[lung & binary_dilation(wall, iterations=1)] = L2["pleura"]
    # peritoneal lining: intra-abdominal fat next to the abdominal wall muscles, between pelvis and diaphragm
    zlo, zhi = pt.Z(30), pt.Z(300)
    zs = slice(int(np.searchsorted(c.z, zlo)), int(np.searchsorted(c.z, zhi)))
    sub = lab[zs]
    fat = sub == L["visceral_fat"]
    muscle = np.isin(sub, [L["muscle"], L2["psoas"], L2["paraspinal"]])
    sub[fat & binary_dilation(muscle, iterations=1)] = L2["peritoneum"]
    bl = pt.centers.get("bladder")
    if bl is not None:  # the rectovesical / rectouterine pouch, behind the bladder
        c.ellipsoid(L2["peritoneum"], (bl[0] + pt.Z(22), bl[1] + 52 * pt.p.w * pt.p.bladder, 0.0), (pt.Z(12), 8, 20),
                    over=_VF)
    # omentum: an apron in front of the bowel
    for k in range(lab.shape[0]):
        zk = float(c.z[k])
        if not (pt.Z(110) <= zk <= pt.Z(225)):
            continue
        a, b, yc = pt.cavity(zk)
        ycol = c.y[:, None]
        apron = (ycol < yc - 0.5 * b) & ((c.x[None, :] / max(a, 1)) ** 2 + ((ycol - yc) / max(b, 1)) ** 2 <= 0.92)
        sl = lab[k]
        sl[apron & np.isin(sl, [L["visceral_fat"], L2["bowel_ileum"], L2["bowel_jejunum"]])] = L2["omentum"]


__all__ = ["paint_version2"]
