"""Build tests/data/report_sentences.jsonl: hand-written report sentences plus templated variants.

Each row: sentence, findings (list of {suvmax, slice, prior_suvmax, laterality, site}), kind ("hand" or
"template"). Hand-written rows were written from phrasing patterns of real PET/CT reports, including hard
ones the parser may get wrong. Run: python tests/data/make_report_sentences.py (seeded, reproducible).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

N = None


def F(suv, sl, prior=None, side="", site=""):  # noqa: N802
    return {"suvmax": suv, "slice": sl, "prior_suvmax": prior, "laterality": side, "site": site}


HAND: list[tuple[str, list[dict]]] = [
    # phrasings of anchors.md
    ("Hypermetabolic right hilar node, SUV max 8.2, PET/CT axial slice 129.", [F(8.2, 129, N, "right", "hilar_node")]),
    ("Left axillary node with SUVmax of 12.6 (Slice 144 Series 2).", [F(12.6, 144, N, "left", "axillary_node")]),
    ("Right lower lobe nodule with max SUV of 3.6 (axial slice 134) compared 1.9 previously.",
     [F(3.6, 134, 1.9, "right", "lung_lower_lobe")]),
    ("Sacral lesion with SUV Max of 1.7 today (previously 2.8), image 88.", [F(1.7, 88, 2.8, "", "sacrum")]),
    ("Bilateral hilar nodes with SUV max of 2.7 and 3.5 respectively (series 2 slice 170 and 176 respectively).",
     [F(2.7, 170, N, "bilateral", "hilar_node"), F(3.5, 176, N, "bilateral", "hilar_node")]),
    ("The liver lesion is best seen in slice 112 of the coronal and slice 42 in the axial, SUVmax 6.1.",
     [F(6.1, 42, N, "", "liver")]),
    ("Left iliac bone lesion (slice 67 SUV max 5.4).", [F(5.4, 67, N, "left", "iliac_bone")]),
    ("Mediastinal blood pool activity with an SUV Max of 1.9.", []),
    # common styles
    ("Intensely FDG-avid right hilar node, SUVmax 12.3, image 145.", [F(12.3, 145, N, "right", "hilar_node")]),
    ("Right axillary node SUVmax=4.3 (series 4, image 120).", [F(4.3, 120, N, "right", "axillary_node")]),
    ("Retroperitoneal node, image 145/300, SUV of 5.2.", [F(5.2, 145, N, "", "retroperitoneal_node")]),
    ("Conglomerate mesenteric nodes on images 140-150, SUVmax 7.7.", [F(7.7, 145, N, "", "mesenteric_node")]),
    ("Left adrenal nodule SUV max 5.4 → 3.1, im 77.", [F(3.1, 77, 5.4, "left", "adrenal")]),
    ("Right external iliac node, SUVmax 6.2 (img 201), compared to mediastinal blood pool SUVmax 2.1.",
     [F(6.2, 201, N, "right", "external_iliac_node")]),
    ("Right hilar node SUVmax 12.3 image 145 and left axillary node SUVmax 3.2 image 98.",
     [F(12.3, 145, N, "right", "hilar_node"), F(3.2, 98, N, "left", "axillary_node")]),
    ("Liver lesion SUVmax increased from 4.1 to 6.3 (image 95).", [F(6.3, 95, 4.1, "", "liver")]),
    ("Thoracic spine lesion, SUV max was 5.4, now 3.1, image #60.", [F(3.1, 60, 5.4, "", "vertebra")]),
    ("Index lesion: right hilar node (series 2, image 145) SUVmax 12.3, previously 8.7.",
     [F(12.3, 145, 8.7, "right", "hilar_node")]),
    ("Left supraclavicular node, SUVmax 5,4 (image 33).", [F(5.4, 33, N, "left", "supraclavicular_node")]),
    ("1.4 x 1.1 cm right axillary node (image 98) with SUVmax 4.6.", [F(4.6, 98, N, "right", "axillary_node")]),
    ("Right hilar node measuring 2.3 cm with SUV max 11.2 on image 101 (previously 2.1 cm, SUV 9.8).",
     [F(11.2, 101, 9.8, "right", "hilar_node")]),
    ("There is a 1.2 cm left supraclavicular node with SUVmax of 6.0 (4/120).",
     [F(6.0, 120, N, "left", "supraclavicular_node")]),
    ("Lesion in segment 7 of the liver, SUVmax 8.4, image 102.", [F(8.4, 102, N, "", "liver")]),
    ("FDG-avid L3 vertebral body lesion SUVmax 7.2 (im 212).", [F(7.2, 212, N, "", "vertebra")]),
    ("Focal uptake in the right 6th rib (SUVmax 3.3; image 110).", [F(3.3, 110, N, "right", "rib")]),
    ("SUVmax 4.5 (image 88) in a left external iliac node; SUVmax 3.9 (image 95) in a right obturator node.",
     [F(4.5, 88, N, "left", "external_iliac_node"), F(3.9, 95, N, "right", "internal_iliac_node")]),
    ("Hypermetabolic left level II cervical lymph node, SUVmax 9.1, axial image 48 (series 3).",
     [F(9.1, 48, N, "left", "cervical_node")]),
    ("Right and left hilar nodes measure SUVmax 5.1 and 4.8 on images 140 and 142, respectively.",
     [F(5.1, 140, N, "right", "hilar_node"), F(4.8, 142, N, "left", "hilar_node")]),
    ("For reference, liver SUVmean is 2.1 and mediastinal blood pool SUVmax 1.8.", []),
    ("Deauville 4 uptake in a right cervical node (SUVmax 5.6 vs liver 2.4), image 40.",
     [F(5.6, 40, N, "right", "cervical_node")]),
    ("Left breast mass SUV max 7.8 image 122, slightly decreased from 8.5.", [F(7.8, 122, 8.5, "left", "breast")]),
    ("A 9 mm right lower lobe nodule demonstrates mild uptake with SUVmax 1.9 (series 4, image 87).",
     [F(1.9, 87, N, "right", "lung_lower_lobe")]),
    ("The previously described left axillary node (image 100) now has SUVmax 2.4 (prior 6.5).",
     [F(2.4, 100, 6.5, "left", "axillary_node")]),
    ("Left axillary node: SUVmax 4.1 (image 101).", [F(4.1, 101, N, "left", "axillary_node")]),
    ("Prostate bed focus, SUVmax 6.8, image 280, PSMA-avid.", [F(6.8, 280, N, "", "prostate")]),
    ("Right hilar node (SUVmax: 12.3; im: 145).", [F(12.3, 145, N, "right", "hilar_node")]),
    ("Hypermetabolic right hilar node, SUV max approximately 12.3 (image no. 145).",
     [F(12.3, 145, N, "right", "hilar_node")]),
    ("SUVmax up to 9.7 in conglomerate mediastinal nodes, image 130.", [F(9.7, 130, N, "", "mediastinal_node")]),
    ("Multiple bilateral pulmonary nodules, the largest in the right upper lobe (image 85) with SUVmax 3.2.",
     [F(3.2, 85, N, "right", "lung_upper_lobe")]),
    ("Right hilum: SUVmax 8.8 (previously 12.0), series 2 image 133.", [F(8.8, 133, 12.0, "right", "hilar_node")]),
    ("New focus in the left ilium with SUVmax of 4.7 on axial image 250 (not seen previously).",
     [F(4.7, 250, N, "left", "iliac_bone")]),
    ("Left supraclavicular node with SUV max 5.5 at the level of image 32; blood pool SUVmax 2.0.",
     [F(5.5, 32, N, "left", "supraclavicular_node")]),
    ("Right inguinal node SUVmax 3.3 (image 301, series 3) versus 4.5 on the prior exam.",
     [F(3.3, 301, 4.5, "right", "inguinal_node")]),
    ("Right axillary node with an SUV max of 6.7 on image 91 (previously SUV max 9.2 on image 95).",
     [F(6.7, 91, 9.2, "right", "axillary_node")]),
    ("On image 95 of the prior exam the right axillary node measured SUV 9.2; today it measures SUV 6.7 on "
     "image 91.", [F(6.7, 91, 9.2, "right", "axillary_node")]),
    ("The SUVmax of the right hilar node is 12.3 (image 145).", [F(12.3, 145, N, "right", "hilar_node")]),
    ("Right adrenal nodule measuring 2.1 x 1.8 cm and SUV 7.4 (im 166).", [F(7.4, 166, N, "right", "adrenal")]),
    ("Left lower lobe mass (SUVmax 15.2 [image 78]).", [F(15.2, 78, N, "left", "lung_lower_lobe")]),
    ("FDG avid (SUV 4.1) left level IIA node (series 5, image 22).", [F(4.1, 22, N, "left", "cervical_node")]),
    ("Increased uptake in the right adrenal, SUV max 3.9 (image 150), compared to 2.2 on prior.",
     [F(3.9, 150, 2.2, "right", "adrenal")]),
    ("Right external iliac node (SUVmax 4.1, IM 240/512).", [F(4.1, 240, N, "right", "external_iliac_node")]),
    ("Left axillary node, SUV 3,8, image 99.", [F(3.8, 99, N, "left", "axillary_node")]),
    ("Paraaortic nodes with SUV's of 4.5 and 3.2 (images 180 and 188).",
     [F(4.5, 180, N, "", "retroperitoneal_node"), F(3.2, 188, N, "", "retroperitoneal_node")]),
    ("(SUV max = 6.1, slice 160) in the right common iliac chain.", [F(6.1, 160, N, "right", "common_iliac_node")]),
    ("Maximum standardized uptake value of 5.5 on image 77 in the left adrenal.",
     [F(5.5, 77, N, "left", "adrenal")]),
    ("Liver: segment VIII lesion SUVmax 7.1 (image 110), background liver SUVmean 2.0.",
     [F(7.1, 110, N, "", "liver")]),
    ("Intense uptake in a left supraclavicular node.", [F(N, N, N, "left", "supraclavicular_node")]),
    ("No FDG-avid lymphadenopathy.", []),
    ("Physiologic uptake in the bladder and kidneys.", []),
    ("The liver demonstrates normal uptake.", []),
    ("Unchanged mildly avid right hilar node.", [F(N, N, N, "right", "hilar_node")]),
    ("Interval resolution of the previously seen left axillary node.", []),
    ("Resolved left axillary node (previously SUVmax 6.5, image 100).", []),
    ("Intensely FDG-avid right hilar node.", [F(N, N, N, "right", "hilar_node")]),
    ("No abnormal uptake.", []),
    ("Lungs are clear without suspicious nodules.", []),
    ("Right hilar node 12 mm, SUV 4.4, image 120.", [F(4.4, 120, N, "right", "hilar_node")]),
    ("Left external iliac lymph node, 1.5 cm, SUVmax 6.3 on image 250 of series 3.",
     [F(6.3, 250, N, "left", "external_iliac_node")]),
    ("A left inguinal node (im 310) shows SUV max of 2.9, previously 3.4.", [F(2.9, 310, 3.4, "left", "inguinal_node")]),
    ("Spleen lesion, SUVmax 5.9 (series 2 / image 160).", [F(5.9, 160, N, "", "spleen")]),
    ("Pancreatic tail lesion with SUVmax of 10.1 on slice 171.", [F(10.1, 171, N, "", "pancreas")]),
    ("Left thyroid nodule SUV max 8.0 (image 30), incidental.", [F(8.0, 30, N, "left", "thyroid")]),
    ("Right femoral lesion SUVmax 4.0 image 330 (prior 4.2 on image 329).", [F(4.0, 330, 4.2, "right", "femur")]),
    ("Subcarinal node with SUVmax 6.6 (image 118), unchanged from prior (6.4).",
     [F(6.6, 118, 6.4, "", "mediastinal_node")]),
    ("Right paratracheal node SUVmax of 3.5, axial image 102, previously 5.6.",
     [F(3.5, 102, 5.6, "right", "mediastinal_node")]),
    ("Left hilar node: SUV max 4.9, image 140.", [F(4.9, 140, N, "left", "hilar_node")]),
    ("Hepatic dome lesion SUV 9.9 image 125.", [F(9.9, 125, N, "", "liver")]),
    ("Aortocaval node (SUVmax 5.0) seen on image 190.", [F(5.0, 190, N, "", "retroperitoneal_node")]),
    ("Left acetabular lesion SUV-max 6.2 image 280.", [F(6.2, 280, N, "left", "iliac_bone")]),
    ("Right lung apex lesion, SUVmax 14.5, image 62, with blood pool SUV 1.7 for reference.",
     [F(14.5, 62, N, "right", "lung_upper_lobe")]),
    ("Right rib lesion with SUVmax 3.1 (slices 140 to 144).", [F(3.1, 142, N, "right", "rib")]),
    ("Left obturator node SUVmax 7.5 (image 275, series 2); right obturator node SUVmax 3.0 (image 277).",
     [F(7.5, 275, N, "left", "internal_iliac_node"), F(3.0, 277, N, "right", "internal_iliac_node")]),
    ("Left renal lesion SUVmax 4.4 on image 200 compared with blood pool of 1.8.", [F(4.4, 200, N, "left", "kidney")]),
    ("Prostate: focal uptake in the left apex, SUVmax 12.4 (im 290).", [F(12.4, 290, N, "left", "prostate")]),
    ("Right upper lobe spiculated mass SUVmax 18.2 (series 2, image 75), previously 17.9.",
     [F(18.2, 75, 17.9, "right", "lung_upper_lobe")]),
    ("SUV max of 2.7 and 3.5 in the right and left axillary nodes, image 101 and 104 respectively.",
     [F(2.7, 101, N, "right", "axillary_node"), F(3.5, 104, N, "left", "axillary_node")]),
    ("The right hilar node (image 145) has an SUVmax of 12.3 and the left hilar node (image 148) an SUVmax of 6.0.",
     [F(12.3, 145, N, "right", "hilar_node"), F(6.0, 148, N, "left", "hilar_node")]),
    ("Lytic sacral lesion demonstrating SUVmax 6.9 on image 270 (SUVpeak 5.1).", [F(6.9, 270, N, "", "sacrum")]),
    ("Right cervical level III node with SUVmax 3.4 (image 45); liver SUVmean 2.2.",
     [F(3.4, 45, N, "right", "cervical_node")]),
    ("Mediastinal nodes: SUVmax 4.3 (image 120) with mediastinal blood pool SUVmax 2.3.",
     [F(4.3, 120, N, "", "mediastinal_node")]),
    ("Right common iliac node 1.1 cm SUV 3.8 (se 3 im 244).", [F(3.8, 244, N, "right", "common_iliac_node")]),
    ("Left level IV node SUV max 2.6 (axial image 52 of 300).", [F(2.6, 52, N, "left", "cervical_node")]),
    ("Left axillary node demonstrates an SUVmax of 8 on image 102.", [F(8.0, 102, N, "left", "axillary_node")]),
    ("Right hilar SUVmax 7.3 im 141, left hilar SUVmax 6.9 im 143.",
     [F(7.3, 141, N, "right", "hilar_node"), F(6.9, 143, N, "left", "hilar_node")]),
    ("The dominant left iliac bone lesion on image 262 demonstrates SUVmax 11.8 (was 14.1).",
     [F(11.8, 262, 14.1, "left", "iliac_bone")]),
    ("SUVmax 3.0 in a left lower lobe nodule (slice 99); threshold for positivity SUV 2.5.",
     [F(3.0, 99, N, "left", "lung_lower_lobe")]),
    ("Mild uptake in a right rib, SUVmax 2.6 (image 115), likely post-traumatic.", [F(2.6, 115, N, "right", "rib")]),
    ("Left sided supraclavicular node SUVmax 6.1, coronal image 80, axial image 35.",
     [F(6.1, 35, N, "left", "supraclavicular_node")]),
    ("Previously noted right axillary node now measures SUVmax 2.1 (image 96), previously 5.5.",
     [F(2.1, 96, 5.5, "right", "axillary_node")]),
    ("Splenic lesion SUVmax 3.9 image 150.", [F(3.9, 150, N, "", "spleen")]),
    ("Right breast mass with SUVmax 5.7 (image 110 of series 4).", [F(5.7, 110, N, "right", "breast")]),
    ("Left axillary node SUVmax 2.2 (image 100), below blood pool of 2.4.", [F(2.2, 100, N, "left", "axillary_node")]),
    ("Lesion at image 188: right kidney, SUVmax 5.3.", [F(5.3, 188, N, "right", "kidney")]),
    ("Right hilar node SUV 6.4 / image 140.", [F(6.4, 140, N, "right", "hilar_node")]),
    ("Left internal iliac node SUVmax 4.4 (Se: 2, Im: 266).", [F(4.4, 266, N, "left", "internal_iliac_node")]),
    ("SUVmax of 10 at image 120 in the subcarinal region.", [F(10.0, 120, N, "", "mediastinal_node")]),
    ("Hypermetabolic left supraclavicular node, 8 mm (SUVmax 3.2, image 30).",
     [F(3.2, 30, N, "left", "supraclavicular_node")]),
    ("Right adrenal: SUVmax 2.9 on slice 160, compared to liver SUVmax 3.1.", [F(2.9, 160, N, "right", "adrenal")]),
    ("Retrocaval node image 175 SUVmax 6.6 (5.1 on prior).", [F(6.6, 175, 5.1, "", "retroperitoneal_node")]),
    ("Left femur lesion, SUV max 3.3 today vs 3.6 on 2023-05-01, image 350.", [F(3.3, 350, 3.6, "left", "femur")]),
    ("T10 vertebral body lesion SUVmax 9.0 (image 140).", [F(9.0, 140, N, "", "vertebra")]),
    ("Left hilar node with an SUVmax of 7.9 (image 139), and left hilar node with an SUVmax of 4.5 (image 150).",
     [F(7.9, 139, N, "left", "hilar_node"), F(4.5, 150, N, "left", "hilar_node")]),
    ("Uptake in the right lower lobe consolidation (SUVmax 4.0, image 100) is likely inflammatory.",
     [F(4.0, 100, N, "right", "lung_lower_lobe")]),
    ("The right hilar node SUVmax measured 12.3 on the current image 145.", [F(12.3, 145, N, "right", "hilar_node")]),
    ("Right inguinal nodes: SUVmax 2.3 (image 300) and 3.4 (image 305).",
     [F(2.3, 300, N, "right", "inguinal_node"), F(3.4, 305, N, "right", "inguinal_node")]),
    ("Max SUV 4.2 within the left adrenal nodule at image 158.", [F(4.2, 158, N, "left", "adrenal")]),
    ("Left lower lobe nodule: image 90 (SUVmax 2.8), compared to prior SUVmax of 1.9 on image 92.",
     [F(2.8, 90, 1.9, "left", "lung_lower_lobe")]),
    ("A 3 cm mass in the right upper lobe with intense FDG uptake SUVmax 16 (image 70).",
     [F(16.0, 70, N, "right", "lung_upper_lobe")]),
    ("Left supraclavicular (SUVmax 4.4, image 35) and right supraclavicular (SUVmax 3.1, image 36) nodes.",
     [F(4.4, 35, N, "left", "supraclavicular_node"), F(3.1, 36, N, "right", "supraclavicular_node")]),
    ("Left axillary node with SUVmax 5.1 (previously SUVmax 3.2 on image 104) now on image 102.",
     [F(5.1, 102, 3.2, "left", "axillary_node")]),
    ("PSMA-avid left external iliac node SUVmax 11.0 on image 270.", [F(11.0, 270, N, "left", "external_iliac_node")]),
    ("DOTATATE-avid pancreatic head lesion (SUVmax 35.2, image 165).", [F(35.2, 165, N, "", "pancreas")]),
    ("Right axillary node SUVmax 6.5 (image 95, series 601).", [F(6.5, 95, N, "right", "axillary_node")]),
    ("Sclerotic right iliac wing lesion, SUVmax 5.8 on image 255, previously 7.3 on image 254.",
     [F(5.8, 255, 7.3, "right", "iliac_bone")]),
    ("Uptake in left axillary node (SUV max ≈ 3.7, image 99).", [F(3.7, 99, N, "left", "axillary_node")]),
    ("Right hilar node with SUVmax ~9.4, image 141.", [F(9.4, 141, N, "right", "hilar_node")]),
    ("Right hilar node; SUVmax 9.4; image 141.", [F(9.4, 141, N, "right", "hilar_node")]),
    ("Right hilar node SUVₘₐₓ 9.4, image 141.", [F(9.4, 141, N, "right", "hilar_node")]),
    ("Left axillary node (1.3 cm, SUVmax 4.8, image 97, series 2).", [F(4.8, 97, N, "left", "axillary_node")]),
    ("Right hilar nodes, largest SUVmax 8.1 on image 140 (2 nodes).", [F(8.1, 140, N, "right", "hilar_node")]),
]


# Written after the parser was tuned on HAND, and measured before any further change (see docs/weak-labels.md)
HOLDOUT: list[tuple[str, list[dict]]] = [
    ("Enlarged hypermetabolic left axillary lymph node measuring 2.4 cm (SUV max 9.3, image 112).",
     [F(9.3, 112, N, "left", "axillary_node")]),
    ("There is a new FDG avid right lower lobe nodule, max SUV 4.1 on axial image 96, not present previously.",
     [F(4.1, 96, N, "right", "lung_lower_lobe")]),
    ("Right level IIA cervical node, SUVmax 11.4 (series 3 image 41), previously 14.2.",
     [F(11.4, 41, 14.2, "right", "cervical_node")]),
    ("Small left supraclavicular node with SUV max of 2.1 (image 37), which previously measured 4.0.",
     [F(2.1, 37, 4.0, "left", "supraclavicular_node")]),
    ("Hepatic segment VI lesion, SUVmax 8.8 at image 128; liver background SUVmean 2.3.",
     [F(8.8, 128, N, "", "liver")]),
    ("Uptake in a left external iliac node has decreased to SUVmax 3.2 from 6.4 (image 268).",
     [F(3.2, 268, 6.4, "left", "external_iliac_node")]),
    ("Focal intense uptake in the right acetabulum, SUVmax 10.2, axial slice 281.",
     [F(10.2, 281, N, "right", "iliac_bone")]),
    ("Pre-carinal node SUVmax 5.5 (im 118).", [F(5.5, 118, N, "", "")]),
    ("Two left axillary nodes: SUVmax 4.4 (image 98) and SUVmax 3.6 (image 104).",
     [F(4.4, 98, N, "left", "axillary_node"), F(3.6, 104, N, "left", "axillary_node")]),
    ("The right adrenal nodule (image 161) has SUVmax 6.0, greater than liver (SUVmax 3.1).",
     [F(6.0, 161, N, "right", "adrenal")]),
    ("Left kidney: 3.1 cm exophytic lesion, SUVmax 4.9, image 190.", [F(4.9, 190, N, "left", "kidney")]),
    ("L2 vertebral body: SUVmax 7.7 (image 206); L4: SUVmax 5.2 (image 221).",
     [F(7.7, 206, N, "", "vertebra"), F(5.2, 221, N, "", "vertebra")]),
    ("Persistent uptake in the prostate, SUVmax 9.9 (previous 12.5), image 300.",
     [F(9.9, 300, 12.5, "", "prostate")]),
    ("Left inguinal lymph node (1.0 cm short axis) SUVmax 2.6 on image number 322.",
     [F(2.6, 322, N, "left", "inguinal_node")]),
    ("Right hilar SUV max 6.3 (slice 148), mediastinal blood pool SUV max 1.9 (slice 150).",
     [F(6.3, 148, N, "right", "hilar_node")]),
    ("Hypermetabolic mass in the pancreatic head, SUV 12.9, image 171, increased from 9.0.",
     [F(12.9, 171, 9.0, "", "pancreas")]),
    ("Left lower lobe mass with an SUVmax of 13.7 on series 4 image 89 (previously 13.1 on image 90).",
     [F(13.7, 89, 13.1, "left", "lung_lower_lobe")]),
    ("Right breast: irregular mass at 10 o'clock, SUVmax 6.2 (image 104).", [F(6.2, 104, N, "right", "breast")]),
    ("Retroperitoneal nodes with SUVmax ranging from 3.1 to 5.6 (images 180-200).",
     [F(5.6, 190, N, "", "retroperitoneal_node")]),
    ("Mildly FDG-avid thyroid nodule on the right, SUV 3.0, image 31.", [F(3.0, 31, N, "right", "thyroid")]),
    ("Right 5th rib: SUVmax 3.5 (was 2.0), image 122.", [F(3.5, 122, 2.0, "right", "rib")]),
    ("Index mesenteric node: SUVmax 7.1 → 4.0 (image 210).", [F(4.0, 210, 7.1, "", "mesenteric_node")]),
    ("Left common iliac node SUVmax 8,3 im 240 (prior 10,1).", [F(8.3, 240, 10.1, "left", "common_iliac_node")]),
    ("Right obturator node, SUV-max 5.0, image 283; left obturator node, SUV-max 4.1, image 285.",
     [F(5.0, 283, N, "right", "internal_iliac_node"), F(4.1, 285, N, "left", "internal_iliac_node")]),
    ("No FDG-avid disease in the abdomen or pelvis; liver SUVmax 3.0.", []),
    ("Intensely avid left hilar mass encasing the bronchus.", [F(N, N, N, "left", "hilar_node")]),
    ("Left femoral neck lesion with SUVmax 4.6, image 338, series 2.", [F(4.6, 338, N, "left", "femur")]),
    ("Paratracheal lymph node (SUVmax 3.9 on image 110 compared to 2.9 on image 112 of the prior study).",
     [F(3.9, 110, 2.9, "", "mediastinal_node")]),
    ("Spleen: diffuse uptake, SUVmax 3.6, greater than liver 2.7 (image 150).", [F(3.6, 150, N, "", "spleen")]),
    ("Right external iliac node SUV max 3.3 today compared to SUV max 7.8 on the baseline scan, image 258.",
     [F(3.3, 258, 7.8, "right", "external_iliac_node")]),
    ("New sclerotic lesion in the sacrum with SUVmax 6.4 on axial image 262 of 320.", [F(6.4, 262, N, "", "sacrum")]),
    ("Right axillary node with SUV of 2.2 (previously 2.4) on image 99.", [F(2.2, 99, 2.4, "right", "axillary_node")]),
    ("A left hilar node (images 138-142) shows SUVmax 5.9.", [F(5.9, 140, N, "left", "hilar_node")]),
    ("The right upper lobe mass demonstrates SUV max of 21 (image 72) versus 24 previously.",
     [F(21.0, 72, 24.0, "right", "lung_upper_lobe")]),
    ("Aortopulmonary window node SUVmax 4.8 (series 2: image 125).", [F(4.8, 125, N, "", "mediastinal_node")]),
    ("Left supraclavicular and left axillary nodes with SUVmax 6.1 and 7.4, images 36 and 95, respectively.",
     [F(6.1, 36, N, "left", "supraclavicular_node"), F(7.4, 95, N, "left", "axillary_node")]),
    ("Hypermetabolic right iliac wing lesion (SUVmax 9.2) on axial image 247, MIP image 12.",
     [F(9.2, 247, N, "right", "iliac_bone")]),
    ("Mildly avid left lower lobe nodule: 7 mm, SUV 1.8, image 101 (below mediastinal blood pool of 2.0).",
     [F(1.8, 101, N, "left", "lung_lower_lobe")]),
    ("PSMA-expressing right internal iliac node, SUVmax 16.3 (Im 277/Se 3).",
     [F(16.3, 277, N, "right", "internal_iliac_node")]),
    ("Right hilar node, SUVmax 8.0 (axial 140).", [F(8.0, 140, N, "right", "hilar_node")]),
]

DESCRIPTORS = [
    ("right hilar lymph node", "right", "hilar_node"), ("left axillary node", "left", "axillary_node"),
    ("right upper lobe nodule", "right", "lung_upper_lobe"), ("left adrenal nodule", "left", "adrenal"),
    ("hepatic lesion", "", "liver"), ("right external iliac node", "right", "external_iliac_node"),
    ("left supraclavicular node", "left", "supraclavicular_node"), ("sacral lesion", "", "sacrum"),
    ("subcarinal node", "", "mediastinal_node"), ("left inguinal node", "left", "inguinal_node"),
    ("right rib lesion", "right", "rib"), ("para-aortic node", "", "retroperitoneal_node"),
]
ADJ = ["Hypermetabolic", "Intensely FDG-avid", "FDG-avid", "Mildly avid", "New", "Persistent", "A"]
SUV_FMT = ["SUVmax {v}", "SUV max {v}", "SUV max of {v}", "max SUV {v}", "SUVmax={v}", "SUV of {v}",
           "SUVmax: {v}", "SUV {v}", "maximum SUV of {v}", "an SUVmax of {v}"]
IMG_FMT = ["image {i}", "im {i}", "img {i}", "slice {i}", "axial image {i}", "series 4, image {i}",
           "image {i}/320", "axial slice {i}", "image #{i}", "series 2 slice {i}"]
PRIOR_FMT = [", previously {p}", " (previously {p})", ", compared to {p} previously", " (prior {p})",
             ", down from {p}", " (was {p} on the prior exam)"]
REF_FMT = ["; mediastinal blood pool SUVmax {r}", ", compared with liver background SUVmean {r}", ""]


def templated(rng: random.Random, n: int) -> list[tuple[str, list[dict]]]:
    rows = []
    for _ in range(n):
        desc, side, site = rng.choice(DESCRIPTORS)
        v = round(rng.uniform(1.5, 25), rng.choice([1, 1, 1, 0]))
        if float(v).is_integer():
            v = int(v)
        i = rng.randint(10, 400)
        suv = rng.choice(SUV_FMT).format(v=v)
        img = rng.choice(IMG_FMT).format(i=i)
        prior = None
        order = rng.random()
        if order < 0.4:
            s = f"{rng.choice(ADJ)} {desc}, {suv}, {img}"
        elif order < 0.7:
            s = f"{rng.choice(ADJ)} {desc} with {suv} ({img})"
        elif order < 0.85:
            s = f"{rng.choice(ADJ)} {desc} ({img}) with {suv}"
        else:
            s = f"{suv} in a {desc} on {img}"
        if rng.random() < 0.35:
            prior = round(rng.uniform(1.5, 25), 1)
            s += rng.choice(PRIOR_FMT).format(p=prior)
        if rng.random() < 0.3:
            s += rng.choice(REF_FMT).format(r=round(rng.uniform(1.2, 3.0), 1))
        s = s[0].upper() + s[1:] + "."
        rows.append((s, [F(float(v), i, prior, side, site)]))
    return rows


def main() -> None:
    rng = random.Random(20260401)
    rows = [(s, f, "hand") for s, f in HAND] + [(s, f, "holdout") for s, f in HOLDOUT]
    rows += [(s, f, "template") for s, f in templated(rng, 90)]
    out = Path(__file__).with_name("report_sentences.jsonl")
    with out.open("w", encoding="utf-8") as fh:
        for s, findings, kind in rows:
            for f in findings:
                if f["suvmax"] is not None:
                    f["suvmax"] = float(f["suvmax"])
            fh.write(json.dumps({"sentence": s, "findings": findings, "kind": kind}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} sentences -> {out}")


if __name__ == "__main__":
    main()
