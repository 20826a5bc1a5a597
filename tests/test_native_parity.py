"""The compiled kernels and their pure-Python twin give identical results on random input."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhnlp._native import COMPILED, pure

kernels = pytest.importorskip("zhnlp._native._kernels", reason="the Cython extension is not built")

TEXT = st.text(alphabet="天地人和的了之不山水一二。，a \n", max_size=400)


def test_compiled_extension_is_in_use_when_required():
    if os.environ.get("ZHNLP_REQUIRE_COMPILED") == "1":
        assert COMPILED, "the Cython extension was not built by pip install"


def _pipeline(module, text, nparts, max_entries, min_count, min_pmi, max_len):
    vocab = module.CharVocab()
    ids = vocab.encode(text)
    counter = module.NgramCounter(order=4, nparts=nparts, max_entries=max_entries)
    for part in range(nparts):
        counter.count(ids, part)
    kept, by_order = counter.cohesive(min_count, {n: min_pmi * (n - 1) for n in (2, 3, 4)})
    pieces = module.PieceCounter(max_len)
    pieces.cut_and_count(ids, kept, counter)
    return {
        "ids": list(ids),
        "chars": list(vocab.chars),
        "counts": counter.to_dict(),
        "total": counter.total_chars,
        "floor": counter.prune_floor,
        "kept": kept.to_set(),
        "by_order": by_order,
        "pieces": sorted(pieces.items(vocab.chars)),
        "piece_total": pieces.total,
    }


@settings(max_examples=150, deadline=None)
@given(text=TEXT, nparts=st.sampled_from([1, 2, 3]), max_entries=st.sampled_from([0, 12, 40]),
       min_count=st.integers(1, 3), min_pmi=st.sampled_from([0.0, 0.5, 1.0]), max_len=st.integers(1, 5))
def test_counting_cutting_parity(text, nparts, max_entries, min_count, min_pmi, max_len):
    compiled = _pipeline(kernels, text, nparts, max_entries, min_count, min_pmi, max_len)
    twin = _pipeline(pure, text, nparts, max_entries, min_count, min_pmi, max_len)
    assert compiled == twin


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet="天地人和的了之不山水", max_size=60),
       lexicon=st.dictionaries(st.text(alphabet="天地人和的了之不山水", min_size=1, max_size=4),
                               st.integers(1, 50), max_size=30),
       removed=st.lists(st.text(alphabet="天地人和", min_size=1, max_size=2), max_size=3))
def test_lattice_parity(text, lexicon, removed):
    results = []
    for module in (kernels, pure):
        lattice = module.WordLattice()
        for word, count in lexicon.items():
            lattice.set_count(word, count)
        for word in removed:
            lattice.set_count(word, 0)
        results.append((lattice.cut(text), lattice.total, len(lattice)))
    assert results[0] == results[1]
    assert "".join(results[0][0]) == text


def test_merge_of_piece_counters_matches_one_counter():
    text = "天地人和天地人和，山水之间山水之间。" * 5
    for module in (kernels, pure):
        vocab = module.CharVocab()
        ids = vocab.encode(text)
        counter = module.NgramCounter(order=4)
        counter.count(ids, 0)
        kept, _ = counter.cohesive(2, {2: 0.5, 3: 1.0, 4: 1.5})
        one, a, b = module.PieceCounter(4), module.PieceCounter(4), module.PieceCounter(4)
        one.cut_and_count(ids, kept, counter)
        one.cut_and_count(ids, kept, counter)
        a.cut_and_count(ids, kept, counter)
        b.cut_and_count(ids, kept, counter)
        a.merge(b)
        assert sorted(a.items(vocab.chars)) == sorted(one.items(vocab.chars))
        assert a.total == one.total == 2 * sum(c for _, c in one.items(vocab.chars)) // 2
