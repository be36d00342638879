"""The embedded sample dialogsum-mini: big enough to teach with, varied, and not near-duplicated."""

from __future__ import annotations

import itertools
import re

import pytest

TURN = re.compile(r"^#Person(\d)#: \S")


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return set(zip(*(words[i:] for i in range(n))))


def _worst_overlap(texts: list[str], n: int) -> tuple[float, str, str]:
    """The largest |A∩B| / min(|A|,|B|) over pairs of word n-gram sets, with the pair."""
    grams = [_ngrams(t, n) for t in texts]
    worst = (0.0, "", "")
    for (i, a), (j, b) in itertools.combinations(enumerate(grams), 2):
        if a and b:
            share = len(a & b) / min(len(a), len(b))
            if share > worst[0]:
                worst = (share, texts[i][:60], texts[j][:60])
    return worst


@pytest.fixture(scope="module")
def rows(mini):
    return [row for split in mini.values() for row in split]


def test_sizes(mini):
    """Does the sample hold at least 300 dialogues split train ≥230 / validation ≥20 / test ≥50?"""
    sizes = {name: split.num_rows for name, split in mini.items()}
    assert sizes["train"] >= 230 and sizes["validation"] >= 20 and sizes["test"] >= 50
    assert sum(sizes.values()) >= 300


def test_test_rows_have_three_references(mini):
    """Does every test dialogue carry three distinct references, as DialogSum's test set does?"""
    for row in mini["test"]:
        assert len(row["references"]) == 3 and len(set(row["references"])) == 3, row["id"]


def test_turn_format(rows):
    """Is every dialogue 4-25 turns of `#PersonN#: text` between 2 or 3 speakers?"""
    for row in rows:
        turns = row["dialogue"].split("\n")
        speakers = set()
        for turn in turns:
            match = TURN.match(turn)
            assert match, f"{row['id']}: bad turn {turn[:50]!r}"
            speakers.add(match[1])
        assert 4 <= len(turns) <= 25, row["id"]
        assert 2 <= len(speakers) <= 3, row["id"]


def test_topics_vary(rows):
    """Does the sample cover at least 40 distinct topics?"""
    assert len({row["topic"].strip().lower() for row in rows}) >= 40


def test_dialogues_are_not_near_duplicates(rows):
    """Do no two dialogues share more than 30% of their word 4-grams?"""
    share, a, b = _worst_overlap([row["dialogue"] for row in rows], 4)
    assert share <= 0.30, f"{share:.2f}: {a!r} vs {b!r}"


def test_summaries_are_not_near_duplicates(rows):
    """Do no two summaries (every reference counted) share more than 50% of their word 3-grams?"""
    share, a, b = _worst_overlap([ref for row in rows for ref in row["references"]], 3)
    assert share <= 0.50, f"{share:.2f}: {a!r} vs {b!r}"


def test_opening_turns_differ(rows):
    """Does every dialogue open with its own first turn?"""
    openings = [row["dialogue"].split("\n")[0].strip().lower() for row in rows]
    assert len(set(openings)) == len(openings)
