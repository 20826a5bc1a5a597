"""Word discovery recovers the words planted in a synthetic language, and counts exactly."""
from __future__ import annotations

import collections
import re

import pytest

from zhnlp import Lexicon, discover_words
from zhnlp._native import kernels
from zhnlp.discovery import DiscoveryConfig, remove_redundancy
from zhnlp.errors import ZhnlpError


def test_counts_are_exact_without_pruning():
    text = "天下大势，分久必合，合久必分。天下大势！"
    vocab = kernels.CharVocab()
    counter = kernels.NgramCounter(order=4, nparts=2)
    ids = vocab.encode(text)
    counter.count(ids, 0)
    counter.count(ids, 1)
    expected = collections.Counter()
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        for n in range(1, 5):
            for i in range(len(run) - n + 1):
                expected[run[i:i + n]] += 1
    got = {"".join(vocab.chars[c] for c in key): v for key, v in counter.to_dict().items()}
    assert got == dict(expected)
    assert counter.total_chars == sum(len(r) for r in re.findall(r"[\u4e00-\u9fff]+", text))
    assert counter.prune_floor == 1


def test_pruning_bounds_memory_and_only_undercounts(language):
    text = "\n".join(language[1][:400])
    vocab = kernels.CharVocab()
    ids = vocab.encode(text)
    exact = kernels.NgramCounter(order=4)
    exact.count(ids, 0)
    bounded = kernels.NgramCounter(order=4, max_entries=2000)
    bounded.count(ids, 0)
    assert len(bounded) <= 2000 < len(exact)
    assert bounded.prune_floor > 1
    exact_counts = exact.to_dict()
    for key, count in bounded.to_dict().items():
        assert count <= exact_counts[key]


def test_planted_words_are_recovered_and_none_invented(corpus_file, language):
    planted, _ = language
    lexicon = discover_words(corpus_file, min_count=5)
    found = {e.word for e in lexicon if len(e.word) > 1}
    recall = len(found & set(planted)) / len(planted)
    assert recall >= 0.9, sorted(set(planted) - found)
    invented = found - set(planted)
    assert not invented, f"strings across word boundaries: {sorted(invented)[:10]}"


def test_lexicon_is_sorted_and_counts_sum_to_segmented_corpus(corpus_file):
    lexicon = discover_words(corpus_file, min_count=5)
    counts = [e.count for e in lexicon]
    assert counts == sorted(counts, reverse=True)
    assert lexicon.stats["chars"] > 0 and lexicon.stats["words"] == len(lexicon)
    # every kept multi-char word has a score above the redundancy threshold
    assert all(e.score > DiscoveryConfig().redundancy for e in lexicon if len(e.word) > 1)


def test_redundancy_removes_a_concatenation_of_independent_words():
    # 甲乙 and 丙丁 are words; 甲乙丙丁 occurs only as often as chance predicts
    counts = {"甲乙": 1000, "丙丁": 1000, "甲乙丙丁": 1, "戊": 5000, "己": 3000}
    kept, scores = remove_redundancy(counts, threshold=1.0)
    assert "甲乙丙丁" not in kept
    assert kept["甲乙"] == 1001 and kept["丙丁"] == 1001
    assert scores["甲乙"] > 1.0


def test_redundancy_keeps_a_word_far_more_frequent_than_its_parts_predict():
    counts = {"甲": 100, "乙": 100, "甲乙": 5000, "丙": 10000}
    kept, scores = remove_redundancy(counts, threshold=1.0)
    assert "甲乙" in kept and scores["甲乙"] > 1.0


def test_iterations_give_a_lexicon_of_the_same_words(corpus_file, language):
    once = discover_words(corpus_file, min_count=5, iterations=1)
    twice = discover_words(corpus_file, min_count=5, iterations=2)
    top_once = {e.word for e in once.top(20, 2)}
    top_twice = {e.word for e in twice.top(20, 2)}
    assert len(top_once & top_twice) >= 15
    # the second round re-segments with the lexicon and recounts: the counts move (so `iterations` is used)
    assert once.counts() != twice.counts()
    assert once.stats["config"]["iterations"] == 1 and twice.stats["config"]["iterations"] == 2


def test_a_corpus_spilled_to_disk_gives_the_same_lexicon(corpus_file, monkeypatch):
    """Small blocks, most of them spilled to the temporary file and streamed in rounds of one per worker."""
    from zhnlp import corpus, textio

    in_memory = discover_words(corpus_file, min_count=5, workers=2)
    monkeypatch.setattr(textio, "BLOCK_BYTES", 2048)
    monkeypatch.setattr(corpus, "CORPUS_MEMORY_LIMIT", 4096)
    spilled = discover_words(corpus_file, min_count=5, workers=2)
    assert [(e.word, e.count) for e in spilled] == [(e.word, e.count) for e in in_memory]
    assert in_memory.stats["config"]["iterations"] == 2  # the re-segmentation streamed the spilled corpus too


def test_accepts_a_list_of_paths_and_a_folder(tmp_path, language):
    lines = language[1]
    (tmp_path / "a.txt").write_text("\n".join(lines[:3000]), encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(lines[3000:]), encoding="utf-8")
    from_files = discover_words([tmp_path / "a.txt", tmp_path / "b.txt"], min_count=5)
    from_folder = discover_words(tmp_path, min_count=5)
    assert from_files.counts() == from_folder.counts()


def test_no_chinese_text_is_an_error(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_text("only latin letters here\n", encoding="utf-8")
    with pytest.raises(ZhnlpError, match="no Chinese text"):
        discover_words(path)


def test_bad_config_is_an_error(corpus_file):
    with pytest.raises(ZhnlpError, match="max-len"):
        discover_words(corpus_file, max_len=12)


@pytest.mark.parametrize("fmt", ["tsv", "jieba", "json", "jsonl"])
def test_lexicon_round_trips_through_every_format(tmp_path, fmt):
    lexicon = Lexicon.from_counts({"天下": 30, "英雄": 12, "的": 90})
    path = tmp_path / f"lex.{fmt}"
    lexicon.save(path, fmt)
    loaded = Lexicon.load(path)
    assert loaded.counts() == lexicon.counts()
    assert [e.word for e in loaded] == ["的", "天下", "英雄"]
