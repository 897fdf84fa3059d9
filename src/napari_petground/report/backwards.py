"""Left-context patterns written backwards, for the text just before a number.

The forward patterns in report.roles end with ``$`` ("SUVmax of" right before the number); ``search`` tries
them at every position of a 48-character window, which costs far more than the rest of the parser. The same
patterns written backwards (every sequence reversed, every word spelled backwards, lookaround sides
swapped; ``\\b`` is symmetric) are matched with ``match`` at the start of the reversed window, so they look
only at the few characters they need. A backward pattern matches exactly when its forward pattern does
(tests/test_report_backwards.py checks each pair on generated text); groups hold reversed text.
"""

from __future__ import annotations

import re

# roles.SUVKW backwards
SUVKW_REV = (
    r"(?:\.?\)?\b(?:(?:mumi|lami)?xam|ₓₐₘ|kaep|naem|gva|egareva|xam\s*wb|xam\s*mbl)\(?\s*[-_]?\s*vus"
    r"|(?:\)vus\(\s*)?(?:vus|s?eulav\s+ekatpu\s+de[sz]idradnats)\s+\.?(?:(?:mumi|lami)?xam|kaep|naem|egareva)"
    r"|(?:(?:mumi)?xam\s*)?(?:\)(?:xam)?\s*vus\(\s*)?s?eulav\s+ekatpu\s+de[sz]idradnats"
    r"|\bs?vus)"
)
# roles.FILLER backwards
FILLER_REV = (
    r"(?:[\s:=~≈(,\[]|\bs'|\b(?:fo|si|saw|erew|gnirusaem|serusaem|derusaem|ot\s+pu|yletamixorppa|\.?xorppa|"
    r"tuoba|dnuora|ylhguor|ylraen|eulav|seulav|level|gnihcaer|ta|won|yltnerruc|yadot|n?a|eht|fo\s+redro\s+eht|"
    r"fo\s+redro\s+eht\s+no|devresbo|detaluclac|deton|nees|xam)\b)*"
)
_ARTICLE_REV = r"(?:\s+(?:n?a|eht|sti))?"

# roles._PRE_SUV: "(SUVKW)FILLER$"
_PRE_SUV = FILLER_REV + SUVKW_REV
PRE_SUV = re.compile(_PRE_SUV)
# roles._PRE_PRIOR
_PRE_PRIOR = (
    FILLER_REV + "(?:" + SUVKW_REV + r")?" + _ARTICLE_REV + r"[\s:=(,]*"
    r"(?:ylsuoiverp|suoiverp|roirp|erofeb|reilrae|enilesab|ylremrof|\.?sv|susrev|(?:(?:ot|htiw)\s+)?derapmoc|"
    r"morf\s*(?:nwod|pu|desaerced|desaercni|decuder|denilced|nesir|gnisir|gnillaf)?|ylsuoiverp\s+saw|"
    r"neeb\s+dah|(?:ot|htiw)\s+nosirapmoc\s+ni)\b"
)
PRE_PRIOR = re.compile(_PRE_PRIOR)
# roles._PRE_CURRENT
_PRE_CURRENT = (
    FILLER_REV + "(?:" + SUVKW_REV + r")?" + _ARTICLE_REV + r"[\s:=(,]*"
    r"(?:won|yltnerruc|yadot|yltneserp|tneserp\s+ta|(?:yduts|maxe|nacs)\s+(?:tnerruc|tneserp)(?:\s+eht)?\s+no)\b"
)
PRE_CURRENT = re.compile(_PRE_CURRENT)
# roles._PRE_SLICE; group "plane" holds the plane word backwards
_PRE_SLICE = (
    r"\s*#?\s*[:#=]?(?:\s*(?:\.?on|rebmun|mun|\.?rn))?\s*\.?\b(?:s?egami|s?gmi|mi|s?ecils|ls|s?noitces|s?tuc)\b"
    r"(?:[\s/-]*\.?(?P<plane>lanoroc|lattigas|laixa|laixasnart|esrevsnart|roc|gas|xa|pim)\b)?"
    r"|\s*[:#]?\s*(?P<axial>laixa|laixasnart)\b"
)
PRE_SLICE = re.compile(_PRE_SLICE)
# roles._PRE_SLICE_HASH
_PRE_SLICE_HASH = r"\s*#(?:\Z|[\s(,])"
PRE_SLICE_HASH = re.compile(_PRE_SLICE_HASH)
# roles._PRE_SERIES
_PRE_SERIES = r"\s*[:#=]?(?:\s*(?:\.?on|rebmun|#))?\s*\.?\b(?:seires|res|es|rs)\b"
PRE_SERIES = re.compile(_PRE_SERIES)
# a measurement on the left, on the last 10 characters before the number: "3 x 2", "by 2", "× 2", "* 2",
# "145/300", "T12", "-2", "day 3" (forward: (?:\b(?:x|by)|×|\*)\s*$|\d\s*/\s*$|[a-z]$|-$|\bday\s*$)
UNIT_BEFORE = re.compile(r"\s*(?:x\b|yb\b|[×*]|/\s*\d|yad\b)|\n?[a-z-]")
# roles._LIVER_BEFORE
LIVER_BEFORE = re.compile(FILLER_REV + "(?:" + SUVKW_REV + r")?[\s(:]*\b(?:revil|citapeh)\b")
