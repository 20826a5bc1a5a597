"""The compiled kernels and their pure-Python twin give identical results on random input."""
from __future__ import annotations

import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zhnlp._native import COMPILED, pure

if os.environ.get("ZHNLP_REQUIRE_COMPILED") == "1":  # CI: a missing extension is a failure, not a skip
    assert COMPILED, "the Cython extension was not built by pip install (ZHNLP_REQUIRE_COMPILED=1)"
kernels = pytest.importorskip("zhnlp._native._kernels", reason="the Cython extension is not built")

TEXT = st.text(alphabet="天地人和的了之不山水一二。，a \n", max_size=400)


def test_the_compiled_extension_is_the_kernels_in_use():
    """Where the extension is built and ZHNLP_PURE_PYTHON is unset, zhnlp runs on it, not on the twin."""
    from zhnlp._native import kernels as in_use

    if os.environ.get("ZHNLP_PURE_PYTHON", "") in ("", "0"):
        assert COMPILED and in_use is kernels and in_use is not pure
    else:
        assert not COMPILED and in_use is pure


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


def _lattice(module, lexicon: dict, removed=()):
    """A WordLattice of module with lexicon's counts, then the words of removed set to 0."""
    lattice = module.WordLattice()
    for word, count in lexicon.items():
        lattice.set_count(word, count)
    for word in removed:
        lattice.set_count(word, 0)
    return lattice


def _lexicons(alphabet: str):
    """Lexicons of short words over ``alphabet`` with counts."""
    return st.dictionaries(st.text(alphabet=alphabet, min_size=1, max_size=4), st.integers(1, 50), max_size=30)


_REMOVED = st.lists(st.text(alphabet="天地人和", min_size=1, max_size=2), max_size=3)  # words set to count 0


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet="天地人和的了之不山水", max_size=60), lexicon=_lexicons("天地人和的了之不山水"),
       removed=_REMOVED)
def test_lattice_parity(text, lexicon, removed):
    results = []
    for module in (kernels, pure):
        lattice = _lattice(module, lexicon, removed)
        results.append((lattice.cut(text), lattice.total, len(lattice)))
    assert results[0] == results[1]
    assert "".join(results[0][0]) == text


@given(text=st.text(alphabet="天地人和的了之不山水。a\n", max_size=120), lexicon=_lexicons("天地人和的了之不山"),
       removed=_REMOVED)
def test_word_tally_parity_and_meaning(text, lexicon, removed):
    """count_words tallies the words on each sentence's best path, lexicon words only."""
    from array import array

    results = []
    for module in (kernels, pure):
        vocab = module.CharVocab()
        ids = vocab.encode(text)
        lattice = _lattice(module, lexicon, removed)
        codepoints = array("I", [0, *map(ord, vocab.chars[1:])])
        tallies = [array("d", bytes(8 * lattice.tally_size)) for _ in range(2)]
        for tally in tallies:  # the same chunk twice, as if two threads had counted a chunk each
            lattice.count_words(ids, codepoints, tally)
        results.append(lattice.tally_words(tallies, min_count=3))
        expected: dict[str, float] = {}
        for sentence in "".join(ch if pure.is_word_char(ch) else "\n" for ch in text).split("\n"):
            for word in lattice.cut(sentence) if sentence else ():
                if word in lattice:
                    expected[word] = expected.get(word, 0.0) + 2.0
        assert results[-1] == {w: c for w, c in expected.items() if c >= 3}
    assert results[0] == results[1]


@given(lexicon=st.dictionaries(st.text(alphabet="天地人和的了之", min_size=1, max_size=5),
                               st.integers(1, 60), max_size=40),
       checks=st.lists(st.booleans(), min_size=40, max_size=40), threshold=st.sampled_from([-1.0, 0.5, 2.0]))
def test_redundancy_removal_parity(lexicon, checks, threshold):
    candidates = sorted((w for w in lexicon if len(w) > 1), key=lambda w: (-len(w), w))
    results = []
    for module in (kernels, pure):
        lattice = _lattice(module, lexicon)
        scores = lattice.remove_redundancy(candidates, checks[:len(candidates)], threshold)
        results.append((scores, lattice.words(), lattice.total))
    assert results[0] == results[1]
    scores, words, total = results[0]
    removed = [w for w in candidates if w not in words]
    assert total >= sum(lexicon.values()) + sum(lexicon[w] for w in removed)  # each part gains the count
    assert all(score > threshold for score in scores.values()) and set(scores) <= set(words)
    assert all(w in scores for w, ok in zip(candidates, checks) if w in words)  # a candidate left stayed on merit
    assert not any(w in scores for w, ok in zip(candidates, checks) if not ok)


@given(words=st.lists(st.text(alphabet="天地人和的a", min_size=1, max_size=8), max_size=20),
       ngrams=st.lists(st.text(alphabet="天地人和的", min_size=2, max_size=4), max_size=30))
@example(words=["人人a"], ngrams=["人人"])  # an unknown character ending a 3-gram is no 2-gram's end
def test_check_back_parity(words, ngrams):
    """covers: every 3..4-char substring of a word is in the set, on both twins and by plain slicing."""
    results = []
    for module in (kernels, pure):
        vocab = module.CharVocab()
        vocab.encode("天地人和的")
        cohesive = module.NgramSet()
        for ngram in ngrams:
            cohesive.add([vocab.id_of(ch) for ch in ngram])
        results.append(cohesive.covers(words, vocab, 3, 4))
    assert results[0] == results[1]
    assert results[0] == [all(w[i:i + n] in ngrams for n in (3, 4) for i in range(len(w) - n + 1)) for w in words]


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


# ------------------------------------------------------------------ templates (最小熵原理(三))
WORD_IDS = st.lists(st.lists(st.integers(1, 8), min_size=1, max_size=14), max_size=12)


def _encode_sentences(sentences):
    from array import array

    ids = array("I")
    for s in sentences:
        ids.extend(s)
        ids.append(0)
    return ids


def _templates(module, sentences, window, nparts, min_prob, min_pmi, max_paths):
    ids = _encode_sentences(sentences)
    counter = module.NgramCounter(order=2, nparts=nparts)
    eligible = bytes([0] + [1] * 6 + [0] * 3)  # words 7 and 8 are never stored
    for part in range(nparts):
        counter.count_pairs(ids, window, eligible, part)
    word_counts = [0] * 10
    for w in ids:
        word_counts[w] += 1 if w else 0
    import numpy as np

    strong = counter.strong_pairs(np.array(word_counts, dtype=np.uint64), float(sum(word_counts)), min_prob, min_pmi)
    templates = module.TemplateCounter()
    templates.add(ids, window, strong, max_paths)
    pairs = {(a, b): counter.get_pair(a, b) for a in range(1, 9) for b in range(1, 9)}
    return pairs, counter.total_pairs, sorted(templates.items()), templates.total, templates.skipped_sentences


@settings(max_examples=150, deadline=None)
@given(sentences=WORD_IDS, window=st.integers(1, 5), nparts=st.sampled_from([1, 2]),
       min_prob=st.sampled_from([1e-5, 0.02]), min_pmi=st.sampled_from([-1.0, 0.0, 0.5]),
       max_paths=st.sampled_from([3, 10_000]))
def test_pair_and_template_counting_parity(sentences, window, nparts, min_prob, min_pmi, max_paths):
    compiled = _templates(kernels, sentences, window, nparts, min_prob, min_pmi, max_paths)
    twin = _templates(pure, sentences, window, nparts, min_prob, min_pmi, max_paths)
    assert compiled == twin


TEMPLATE = st.lists(st.one_of(st.just(0), st.integers(1, 5)), min_size=1, max_size=5).filter(
    lambda t: any(t) and all(not (a == 0 and b == 0) for a, b in zip(t, t[1:])))


@settings(max_examples=200, deadline=None)
@given(templates=st.lists(TEMPLATE, max_size=12),
       log_probs=st.lists(st.sampled_from([-1.0, -2.5, -4.0, -7.0]), min_size=12, max_size=12),
       words=st.lists(st.integers(0, 6), max_size=16), null_score=st.sampled_from([-20.0, -1.0]))
def test_parse_parity(templates, log_probs, words, null_score):
    trees = [module.TemplateMatcher(templates, log_probs[:len(templates)]).parse(words, null_score)
             for module in (kernels, pure)]
    assert trees[0] == trees[1]
    tree = trees[0]
    if words:  # the tree covers the sentence, and blocks nest without crossing
        def check(node):
            index, start, end, positions, children = node
            assert start < end
            inside = sorted(list(positions) + [p for c in children for p in range(c[1], c[2])])
            assert inside == list(range(start, end))
            if index >= 0:
                template = templates[index]
                assert [words[p] for p in positions] == [w for w in template if w]
                assert len(children) == sum(1 for w in template if w == 0)
            for child in children:
                check(child)
        check(tree)
        assert (tree[1], tree[2]) == (0, len(words))


JIEBA_ALPHABET = "天地人和的了之不山水ab1Z+#._-% \t\r\n，😀ｆ"


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=JIEBA_ALPHABET, max_size=80),
       lexicon=st.dictionaries(st.text(alphabet="天地人和的山水ab1.+", min_size=1, max_size=4),
                               st.integers(1, 50), max_size=30),
       known=st.sets(st.text(alphabet=JIEBA_ALPHABET, min_size=1, max_size=3), max_size=20),
       offsets=st.booleans(), word_ids=st.booleans())
@example(text="11", lexicon={}, known={"11"}, offsets=False, word_ids=False)  # a known word of two pieces
def test_jieba_cut_and_encode_parity(text, lexicon, known, offsets, word_ids):
    """cut_jieba (jieba's blocks, DP and ASCII runs) and encode_jieba (words mapped to pieces)."""
    results = []
    for module in (kernels, pure):
        lattice = _lattice(module, lexicon)
        words = lattice.cut_jieba(text)
        pieces = {w: tuple(x for i in range(len(w)) for x in (len(w) * 10 + i, i, i + 1)) for w in known}
        results.append((words, lattice.encode_jieba(text, pieces, offsets, word_ids)))
        filled = lattice.encode_jieba(text, dict(pieces), offsets, word_ids, lambda w: (len(w), 0, len(w)))
        # one id per word from on_missing, one per piece of a known word (len(w) pieces: see above)
        assert filled[3] == [] and len(filled[0]) == sum(len(w) if w in pieces else 1 for w in words)
        results.append(filled)
    assert results[0] == results[2] and results[1] == results[3]
    words, (ids, spans, indices, missing) = results[0]
    assert "".join(words) == text
    assert missing == [w for w in words if w not in known]
    if not missing and offsets:
        assert [text[s:e] for s, e in zip(spans[0::2], spans[1::2])] == [c for w in words for c in w]


@st.composite
def _assignment_problems(draw):
    """Groups wanting ids from a small range (clashes everywhere), scores best first, some -inf."""
    groups = draw(st.integers(0, 6))
    width = draw(st.integers(1, 7))
    ids, scores = [], []
    for _ in range(groups):
        row_ids = draw(st.lists(st.integers(0, 6), min_size=width, max_size=width, unique=True))
        row_scores = sorted(draw(st.lists(st.floats(-20, 0, allow_nan=False), min_size=width, max_size=width)),
                            reverse=True)
        allowed = draw(st.integers(0 if draw(st.booleans()) else 1, width))
        ids.append(row_ids)
        scores.append(row_scores[:allowed] + [float("-inf")] * (width - allowed))
    return ids, scores, draw(st.integers(1, 8))


@settings(max_examples=300, deadline=None)
@given(_assignment_problems())
@example(([], [], 3))
@example(([[1, 2], [1, 2]], [[-1.0, -2.0], [-1.0, -2.0]], 4))  # equal bounds: ties pop first-in first-out
def test_best_assignments_twins_agree(problem):
    import numpy as np

    ids, scores, n = problem
    width = len(ids[0]) if ids else 1
    id_array = np.array(ids, dtype=np.int64).reshape(len(ids), width)
    score_array = np.array(scores, dtype=np.float64).reshape(len(ids), width)
    compiled = kernels.best_assignments(id_array, score_array, n)
    assert compiled == pure.best_assignments(id_array, score_array, n)
    for total, tokens in compiled:  # and each is a valid assignment of its score
        assert len(set(tokens)) == len(tokens)
        assert total == pytest.approx(sum(scores[g][ids[g].index(t)] for g, t in enumerate(tokens)))


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.tuples(st.text(alphabet="天地人和的了之", min_size=1, max_size=4), st.integers(0, 50),
                                  st.sampled_from(["", " n", " v x", "\r"])), max_size=25),
       bad=st.sampled_from([None, "天地", " 3", "人 x"]))
@example(entries=[("天", 3, ""), ("天", 5, "")], bad=None)  # a repeated word: its last count, both in the total
def test_dictionary_loading_parity(entries, bad):
    lines = [f"{word} {count}{tail}" for word, count, tail in entries]
    where = len(lines) // 2
    if bad is not None:
        lines.insert(where, bad)
    text = "\n".join(lines) + "\n"
    results = []
    for module in (kernels, pure):
        lattice = module.WordLattice()
        status = lattice.load_dictionary(text)
        words = sorted({w for w, _, _ in entries})
        results.append((status, lattice.total if status == 0 else None,
                        [lattice.get_count(w) for w in words] if status == 0 else None))
    assert results[0] == results[1]
    if bad is None:
        last = {w: c for w, c, _ in entries}
        assert results[0][0] == 0 and results[0][1] == sum(c for _, c, _ in entries)
        assert results[0][2] == [float(last[w]) for w in sorted(last)]
    else:
        assert results[0][0] == where + 1  # the bad line's number


@settings(max_examples=100, deadline=None)
@given(lexicon=st.dictionaries(st.text(alphabet="天地人和的了之不山水", min_size=1, max_size=5), st.integers(1, 60),
                               max_size=40),
       text=st.text(alphabet="天地人和的了之不山水。a ", max_size=80))
def test_a_lattice_saved_as_bytes_cuts_as_the_one_it_was_saved_from(lexicon, text):
    for module in (kernels, pure):
        lattice = module.WordLattice()
        for word, count in lexicon.items():
            lattice.set_count(word, float(count))
        again = module.WordLattice.from_bytes(lattice.to_bytes())
        assert again.cut_jieba(text) == lattice.cut_jieba(text) and again.total == lattice.total
        assert len(again) == len(lattice) and [again.get_count(w) for w in lexicon] == [float(c) for c in lexicon.values()]
        again.set_count("天地人", 7.0)  # still a lattice one can add to
        assert again.get_count("天地人") == 7.0
        with pytest.raises(ValueError):
            module.WordLattice.from_bytes(b"not a lattice at all")


def _exported_and_added_back(module, text, nparts, min_count):
    """export / add_counts / keys / add_keys, the way discovery's Dask job moves counts between workers."""
    vocab = module.CharVocab()
    ids = vocab.encode(text)
    counter = module.NgramCounter(order=4, nparts=nparts)
    for part in range(nparts):
        counter.count(ids, part)
    keys, counts = counter.export(min_count)
    twice = module.NgramCounter(order=4, nparts=3)
    twice.add_counts(keys, counts)
    twice.add_counts(keys, counts)
    cohesive, _ = counter.cohesive(1, {2: 0.0, 3: 0.5, 4: 1.0})
    copied = module.NgramSet()
    copied.add_keys(cohesive.keys())
    pieces = module.PieceCounter(6)
    pieces.cut_and_count(ids, cohesive, counter)
    hi, lo, piece_counts = pieces.export(min_count)
    summed = module.PieceCounter(6)
    summed.add_counts(hi, lo, piece_counts)
    summed.add_counts(hi, lo, piece_counts)
    return {
        "exported": sorted(zip(keys, counts)),
        "twice": twice.to_dict(),
        "total": twice.total_chars,
        "expected": {k: 2 * v for k, v in counter.to_dict().items() if v >= min_count},
        "set": copied.to_set(),
        "cohesive": cohesive.to_set(),
        "pieces": sorted(summed.items(vocab.chars)),
        "expected_pieces": sorted((p, 2 * c) for p, c in pieces.items(vocab.chars, min_count)),
    }


@settings(max_examples=60, deadline=None)
@given(text=TEXT, nparts=st.sampled_from([1, 2]), min_count=st.integers(1, 3))
def test_export_and_add_counts_parity(text, nparts, min_count):
    compiled = _exported_and_added_back(kernels, text, nparts, min_count)
    assert compiled == _exported_and_added_back(pure, text, nparts, min_count)
    assert compiled["twice"] == compiled["expected"] and compiled["set"] == compiled["cohesive"]
    assert compiled["pieces"] == compiled["expected_pieces"]


def test_add_counts_rejects_what_is_not_a_packed_ngram():
    from array import array

    for module in (kernels, pure):
        with pytest.raises(ValueError, match="not a packed n-gram"):
            module.NgramCounter(order=2).add_counts(array("Q", [(1 << 48) | (2 << 32) | (3 << 16)]), array("Q", [1]))
        with pytest.raises(ValueError, match="keys but"):
            module.NgramCounter().add_counts(array("Q", [1 << 48]), array("Q", []))
        with pytest.raises(ValueError, match="not a packed piece"):
            module.PieceCounter().add_counts(array("Q", [0]), array("Q", [0]), array("Q", [1]))
