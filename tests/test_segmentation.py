"""Unigram segmentation: the DP, the blocks around it, and identity with jieba (HMM off)."""
from __future__ import annotations

import re

import pytest

from zhnlp import Segmenter
from zhnlp.lexicon import Lexicon

from .conftest import SHARED_DATA, requires_data


def test_prefers_the_most_probable_path():
    seg = Segmenter({"研究": 50, "研究生": 10, "生命": 40, "命": 5, "的": 100, "起源": 30})
    assert seg.cut("研究生命的起源") == ["研究", "生命", "的", "起源"]


def test_unknown_chars_fall_back_to_single_chars_and_latin_runs_stay_whole():
    seg = Segmenter({"今天": 10})
    assert seg.cut("今天买了iPhone 15，花了５０００元。") == [
        "今天", "买", "了", "iPhone", "15", "，", "花", "了", "５０００", "元", "。"]


def test_accepts_a_string_or_a_list():
    seg = Segmenter(Lexicon.from_counts({"北京": 5}))
    assert seg("北京") == ["北京"]
    assert seg(["北京", "去北京"]) == [["北京"], ["去", "北京"]]


def test_segment_lines_keeps_one_line_per_input_line():
    seg = Segmenter({"天下": 5})
    assert list(seg.segment_lines(["天下大势", "", "天下"])) == ["天下 大 势", "", "天下"]


jieba = pytest.importorskip("jieba")


def _jieba_segmenter():
    import os

    counts = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, freq = line.split(" ")[:2]
            counts[word] = int(freq)
    return Segmenter(counts)


@requires_data
def test_same_as_jieba_without_hmm_on_chinese_runs():
    """The compiled DP loaded with jieba's dictionary cuts every Chinese run of the first 3000
    lines of sidamingzhu.txt exactly as jieba.lcut(run, HMM=False) does."""
    seg = _jieba_segmenter()
    runs = []
    with open(SHARED_DATA / "corpus" / "sidamingzhu.txt", encoding="utf-8") as f:
        for _, line in zip(range(3000), f):
            runs.extend(re.findall(r"[\u4e00-\u9fa5]+", line))
    assert len(runs) > 5000
    mismatches = [r for r in runs if seg.lattice.cut(r) != jieba.lcut(r, HMM=False)]
    assert not mismatches, mismatches[:5]


TRICKY = ["我来到北京清华大学", "iPhone6手机 3.5元，T恤A股卡拉OK", "", "  \r\n \t", "😀表情，ｆｕｌｌ-width１２３",
          "C++和C#程序员_abc%", "a.b.c-d", "他说：“你好！”\n第二行", "〇一二三龘䶮𠀀"]


def test_jieba_segmenter_equals_jieba_lcut_on_tricky_text():
    from zhnlp.segmentation.jieba_compat import JiebaSegmenter

    seg = JiebaSegmenter.from_jieba()
    for text in TRICKY:
        assert seg.cut(text) == jieba.lcut(text, HMM=False), text
    assert seg(["我来到北京", ""]) == [["我", "来到", "北京"], []]


def test_jieba_segmenter_add_word_follows_jieba():
    from zhnlp.segmentation.jieba_compat import JiebaSegmenter

    seg = JiebaSegmenter.from_jieba([("清华大学城", 50), ("北京", 3)])
    reference = jieba.Tokenizer()
    reference.initialize()
    reference.add_word("清华大学城", 50)
    reference.add_word("北京", 3)
    for text in ["我来到北京清华大学城", "北京清华大学城北京人"]:
        assert seg.cut(text) == reference.lcut(text, HMM=False)


@requires_data
def test_jieba_segmenter_equals_jieba_on_every_line_of_the_novels_and_tnews():
    """Every line of sidamingzhu.txt and every TNEWS sentence (the WoBERT identity requirement)."""
    import json

    from zhnlp.segmentation.jieba_compat import JiebaSegmenter

    seg = JiebaSegmenter.from_jieba()
    lines = (SHARED_DATA / "corpus" / "sidamingzhu.txt").read_text(encoding="utf-8").splitlines()
    with open(SHARED_DATA / "classification" / "tnews" / "train.json", encoding="utf-8") as f:
        lines += [json.loads(line)["sentence"] for line in f]
    mismatches = [line for line in lines if seg.cut(line) != jieba.lcut(line, HMM=False)]
    assert not mismatches, mismatches[:3]


def test_the_jieba_dictionary_cache_gives_the_same_cut_and_survives_a_broken_file(tmp_path, monkeypatch):
    from zhnlp.segmentation.jieba_compat import JiebaSegmenter, _cache_file, jieba_dictionary_path

    monkeypatch.setenv("ZHNLP_HOME", str(tmp_path))
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("天地 30\n天地人 5 n\n人和 12\n的 100\n山水 8\n", encoding="utf-8")
    text = "天地人和的山水天地"
    built = JiebaSegmenter.from_dict_file(dictionary)
    cache = _cache_file(dictionary)
    assert cache.is_file() and cache.parent == tmp_path / "cache" / "lattices"
    cached = JiebaSegmenter.from_dict_file(dictionary)
    uncached = JiebaSegmenter.from_dict_file(dictionary, cache=False)
    assert cached.cut(text) == built.cut(text) == uncached.cut(text) and cached.lattice.total == uncached.lattice.total
    cache.write_bytes(b"garbage")  # a broken cache is rebuilt, never trusted
    assert JiebaSegmenter.from_dict_file(dictionary).cut(text) == uncached.cut(text)
    dictionary.write_text("天地人和 50\n", encoding="utf-8")  # a changed file gets a new cache entry
    assert JiebaSegmenter.from_dict_file(dictionary).cut("天地人和") == ["天地人和"]
    monkeypatch.setenv("ZHNLP_NO_CACHE", "1")
    before = sorted(p.name for p in cache.parent.iterdir())
    JiebaSegmenter.from_dict_file(jieba_dictionary_path())
    assert sorted(p.name for p in cache.parent.iterdir()) == before
