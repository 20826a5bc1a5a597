"""Title data, the published CSL metrics and the Lead-k baseline (zhnlp/title)."""
from __future__ import annotations

import pytest

from zhnlp.errors import InputError
from zhnlp.title import TitlePair, best_lead_k, dev_split, lead_k, read_title_pairs, title_scores

from .conftest import SHARED_DATA, optional_module, requires_data

needs_metrics = pytest.mark.skipif(optional_module("rouge") is None or optional_module("nltk") is None,
                                   reason='needs rouge and nltk: pip install "zhnlp[title]"')


def test_pairs_are_read_from_either_layout_and_a_bad_line_is_named(tmp_path):
    path = tmp_path / "titles.tsv"
    path.write_text("to title\t摘要一\t标题一\n\n摘要二\t标题二\n", encoding="utf-8")
    assert read_title_pairs(path) == [TitlePair("摘要一", "标题一"), TitlePair("摘要二", "标题二")]
    path.write_text("摘要一\t标题一\n只有一列\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: expected 'abstract<TAB>title'"):
        read_title_pairs(path)
    path.write_bytes("摘要\t标题\n".encode("gbk"))
    with pytest.raises(InputError, match="line 1: cannot decode"):
        read_title_pairs(path)


def test_the_dev_split_is_fixed_by_the_seed_and_disjoint():
    pairs = [TitlePair(f"摘要{i}", f"标题{i}") for i in range(50)]
    train, dev = dev_split(pairs, 0.2, seed=3)
    assert len(dev) == 10 and len(train) == 40 and not set(train) & set(dev)
    assert dev_split(pairs, 0.2, seed=3) == (train, dev) and dev_split(pairs, 0.2, seed=4)[1] != dev


@needs_metrics
def test_metrics_as_published_on_spaced_lowercased_characters():
    perfect = title_scores(["一种新的方法", "ABC"], ["一种新的方法", "abc"])  # lowercased, by character
    assert all(perfect[m] == pytest.approx(100.0) for m in ("rouge-1", "rouge-2", "rouge-l"))
    assert title_scores(["一种新的方法"], ["一种新的方法"])["bleu"] == pytest.approx(100.0)
    assert title_scores(["abc"], ["abc"])["bleu"] < 100  # nltk's BLEU-4 on 3 characters: no 4-gram, smoothed
    half = title_scores(["甲乙", ""], ["甲乙丙", "丁"])  # unigram P 1, R 2/3: F 0.8; the empty line scores 0
    assert half["rouge-1"] == pytest.approx(100 * 0.8 / 2, abs=1e-4) and half["empty"] == 1 and half["n"] == 2
    assert 0 < half["bleu"] < half["rouge-1"]
    with pytest.raises(InputError):
        title_scores(["一"], [])


@needs_metrics
def test_lead_k_takes_the_k_that_fits_the_training_titles():
    abstracts = ["".join(chr(0x4E00 + (7 * i + j) % 500) for j in range(60)) for i in range(30)]
    titles = [a[:10] for a in abstracts]
    assert lead_k("  一二三四五", 3) == "一二三"
    assert best_lead_k(abstracts, titles, ks=range(5, 31, 5)) == 10


@requires_data
@needs_metrics
def test_lead_35_on_a_dev_split_of_csl_is_near_its_published_figure():
    pairs = read_title_pairs(SHARED_DATA / "title" / "csl_train.tsv")
    train, dev = dev_split(pairs, 0.2, seed=0)
    assert len(pairs) == 1000 and len(dev) == 200
    scores = title_scores([lead_k(p.abstract, 35) for p in dev], [p.title for p in dev])
    assert 30 < scores["rouge-l"] < 40  # Lead-35 scores 34.3 Rouge-L on CSL's test split
