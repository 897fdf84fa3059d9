"""Small wording rules for messages built from values: "an upper lobe nodule", "1 finding", "3 findings".

Messages name sites, files and counts that are only known at run time; a fixed "a {site}" or "{n} findings"
reads wrong for half of them ("a axillary node", "Saved 1 findings"). Plain Python, no imports.
"""

from __future__ import annotations

# words spelled with a vowel but said with a consonant sound ("a uterine", "a one-off"), and the reverse
_CONSONANT_SOUND = ("uni", "use", "usu", "ure", "uret", "uter", "euro", "eu", "one", "once", "ubiq", "uvul", "uint")
_VOWEL_SOUND = ("hour", "honest", "honou", "heir")
_LETTER_NAMES_WITH_VOWEL_SOUND = set("aefhilmnorsx")  # "an F-18 ...", "an L5 ...", "an MRI", "an SUV"


def article(phrase: str) -> str:
    """'a' or 'an' for the phrase that follows, by its first sound."""
    words = phrase.strip().split()
    if not words:
        return "a"
    word = words[0].strip("\"'“”‘’(")
    lower = word.lower()
    if lower[:1].isdigit():  # numbers as said: "an 8 mm", "an 11 mm", "an 18 mm", "a 1.2 cm"
        whole = lower[: len(lower) - len(lower.lstrip("0123456789"))]
        return "an" if lower.startswith("8") or whole in ("11", "18") else "a"
    head = word.split("-")[0]
    capitals = len(head) - len(head.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    if 2 <= capitals <= 5 or len(head) == 1:  # said letter by letter: "an SUVmax", "an FDG-avid", "an x-ray"
        return "an" if head[0].lower() in _LETTER_NAMES_WITH_VOWEL_SOUND else "a"
    if len(lower) > 1 and lower[0] in "fhlmnrsx" and lower[1].isdigit():  # "an L5 vertebra", "an S1 lesion"
        return "an"
    if lower.startswith(_VOWEL_SOUND):
        return "an"
    if lower.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if lower[:1] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    """'an upper lobe nodule', 'a left axillary node'."""
    return f"{article(phrase)} {phrase}"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 finding', '0 findings', '3 findings'; ``plural_form`` for irregular nouns ('1 entry', '2 entries')."""
    if count == 1:
        return f"1 {noun}"
    return f"{count} {plural_form or _plural(noun)}"


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


def agree(count: int, one: str, many: str) -> str:
    """The verb form for ``count`` things: agree(1, 'is', 'are') == 'is'."""
    return one if count == 1 else many
