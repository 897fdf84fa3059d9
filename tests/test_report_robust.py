"""The report parser on bad and unusual input: time linear in the text, no traceback."""

from __future__ import annotations

import time

import pytest

from napari_petground.report import extract_findings, split_sentences


def _cpu_seconds(work) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


# long blocks of short lines (a joining word on every line), a pasted table whose rows are joined into one
# sentence of thousands of findings, long runs of punctuation, thousands of findings with priors in one
# sentence: each took 5 to 60 s while some step of the parser was quadratic
LONG_TEXTS = {
    "8000 lines": "\n".join(["A"] * 8000),
    "4000 lines": "\n".join(["A"] * 4000),
    "table": "\n".join(f"LN {i} R hilar SUVmax 1.2 img {i}" for i in range(4000)),
    "table of one sentence": "\n".join(f"LN {i} R hilar SUVmax 1.2 img {i}," for i in range(4000)),
    "periods": "Word. next " * 60000,
    "unclosed parenthesis": "(" + "word. Next " * 60000,
    "semicolons": "SUVmax 2.1 image 3; " * 8000,
    "priors": "; ".join(f"node SUVmax {i % 9 + 1}.5 image {i} (previously {i % 7 + 1}.1)" for i in range(5000)),
    "priors in parenthesis": "(previously " + " ".join(f"SUV {i % 9 + 1}.2 image {i}," for i in range(80000)),
    "values after images": "node " + " ".join(f"(image {i}), {i % 9 + 1}.5" for i in range(8000)),
    "respectively": "SUVmax " + ", ".join(f"{i % 9}.1" for i in range(8000)) + " on images "
    + ", ".join(str(i) for i in range(8000)) + " respectively, previously " + ", ".join(f"{i % 9}.3" for i in range(8000)),
    "exclamation marks": "!" * 20000 + "x",
    "periods after a number": "SUV 5" + "." * 20000 + "x",
    "change with an open parenthesis": "SUV from 5 " + "to 5 (" * 40000,
}


@pytest.mark.parametrize("name", sorted(LONG_TEXTS))
def test_long_text_is_parsed_in_linear_time(name):
    text = LONG_TEXTS[name]
    # generous bounds: the linear parser takes about 0.1 s here; the quadratic one took 5 to 60 s
    assert _cpu_seconds(lambda: split_sentences(text)) < 2.0
    assert _cpu_seconds(lambda: extract_findings(text)) < 3.0


def test_table_rows_are_sentences_of_their_own():
    rows = [f"LN {i} {'R' if i % 2 else 'L'} hilar SUVmax 1.{i % 10} img {i}" for i in range(400)]
    text = "\n".join(rows)
    assert [s for _, s in split_sentences(text)] == rows  # was one sentence of 400 findings
    found = extract_findings(text)
    assert [(f.sentence, f.suvmax, f.slice) for f in found] == [(r, float(f"1.{i % 10}"), i) for i, r in enumerate(rows)]
    assert all(f.site == "hilar_node" for f in found)
    # a wrapped line that starts with another abbreviation still continues its sentence
    (f,) = extract_findings("Right hilar node, image 145\nSUVmax 8.2")
    assert (f.suvmax, f.slice) == (8.2, 145)


def test_rows_joined_into_one_sentence_each_give_their_finding():
    text = "\n".join(f"LN {i} R hilar SUVmax 1.2 img {i}," for i in range(400))
    assert len(split_sentences(text)) == 1
    found = extract_findings(text)
    assert [(f.suvmax, f.slice) for f in found] == [(1.2, i) for i in range(400)]
    assert all(f.site == "hilar_node" for f in found)


def _pasted(size: int) -> str:
    """A short report followed by a pasted table of ``size`` characters (rows ending in a comma: they join
    into one sentence, the hardest case)."""
    head = "FINDINGS:\nRight hilar node SUVmax 5.1 image 140 (previously 6.2).\nIMPRESSION: no new lesion.\n"
    rows, total, i = [], len(head), 0
    while total < size:
        rows.append(f"LN {i} R hilar SUVmax {i % 9 + 1}.2 img {i}; series 3,")
        total += len(rows[-1]) + 1
        i += 1
    return head + "\n".join(rows)


def test_time_per_character_stays_flat_from_10_kb_to_200_kb():
    small, large = _pasted(10_000), _pasted(200_000)  # quadratic before: the large one took minutes
    per_char_small = min(_cpu_seconds(lambda: extract_findings(small)) for _ in range(3)) / len(small)
    per_char_large = min(_cpu_seconds(lambda: extract_findings(large)) for _ in range(2)) / len(large)
    assert per_char_large < 3 * per_char_small + 1e-7
