"""Sentence-classification data (zhnlp/classification): CLUE JSON lines, folders, TSV, and every
problem named by file and line."""
from __future__ import annotations

import json

import pytest

from zhnlp.classification import Example, load_dataset, read_examples
from zhnlp.errors import InputError


def _lines(path, rows):
    path.write_text("".join((json.dumps(r, ensure_ascii=False) if isinstance(r, dict) else r) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_clue_folders_tsv_files_and_label_order(tmp_path):
    folder = tmp_path / "tnews"
    folder.mkdir()
    _lines(folder / "train.json", [{"label": "110", "label_desc": "news_military", "sentence": "航母编队"},
                                   {"label": "104", "label_desc": "news_finance", "sentence": "股市大涨"}, "",
                                   {"label": "104", "sentence": "基金"}])
    _lines(folder / "dev.json", [{"label": "110", "sentence": "导弹"}])
    data = load_dataset(folder)
    assert data.train == [Example("航母编队", "110"), Example("股市大涨", "104"), Example("基金", "104")]
    assert data.train[2].line == 4 and data.dev == [Example("导弹", "110")]
    assert data.labels == ["104", "110"] and data.descriptions == {"110": "news_military", "104": "news_finance"}
    _lines(folder / "labels.json", [{"label": "110", "label_desc": "军事"}, {"label": "104"}, {"label": "100"}])
    assert load_dataset(folder).labels == ["110", "104", "100"]  # labels.json's order, its extra label kept
    iflytek = _lines(tmp_path / "iflytek.json", [{"label": 10, "label_des": "社区服务", "sentence": "行讯通"},
                                                 {"label": 2, "label_des": "工具", "sentence": "计算器"}])
    examples, descriptions = read_examples(iflytek)
    assert [e.label for e in examples] == ["10", "2"] and descriptions == {"10": "社区服务", "2": "工具"}
    assert load_dataset(iflytek, dev=iflytek).labels == ["2", "10"]  # numbers in numeric order
    tsv = _lines(tmp_path / "train.tsv", ["很好\t1", "有\t制表符的文本\t0", "太差\t0"])
    assert read_examples(tsv)[0][1] == Example("有\t制表符的文本", "0")  # the label is after the last tab
    many = _lines(tmp_path / "many.tsv", [f"文本{i}\t{i % 2}" for i in range(100)])
    split = load_dataset(many, dev_fraction=0.2, split_seed=3)
    assert len(split.train) == 80 and len(split.dev) == 20 and not set(split.train) & set(split.dev)
    assert load_dataset(many, dev_fraction=0.2, split_seed=3).dev == split.dev  # the same seed, the same split


@pytest.mark.parametrize("rows, message", [
    ([{"sentence": "好", "label": "1"}, '{"sentence": "坏", '], r"bad.json, line 2: malformed JSON"),
    ([{"sentence": "好", "label": "1"}, {"sentence": "坏"}], r"bad.json, line 2: needs a \"sentence\""),
    ([{"sentence": "好", "label": "1"}, {"sentence": " ", "label": "0"}], r"bad.json, line 2: the text is empty"),
    ([{"sentence": "好", "label": [1]}], r"bad.json, line 1: the label must be a string or an integer"),
    (["好\t1", "没有制表符"], r"bad.json, line 2: no tab between the text and the label"),
    (["好\t1", "坏\t "], r"bad.json, line 2: no label after the tab"),
    (["", ""], r"bad.json (is empty|holds no examples)"),
])
def test_bad_lines_are_named_by_file_and_line(tmp_path, rows, message):
    with pytest.raises(InputError, match=message):
        read_examples(_lines(tmp_path / "bad.json", rows))


def test_labels_the_training_data_never_had_and_label_files_that_disagree(tmp_path):
    train = _lines(tmp_path / "train.tsv", ["好\t1", "坏\t0", "一般\t0"])
    dev = _lines(tmp_path / "dev.tsv", ["好\t1", "还行\t2"])
    with pytest.raises(InputError, match=r"dev.tsv, line 2: label '2', which the training data never has"):
        load_dataset(train, dev=dev)
    labels = _lines(tmp_path / "labels.json", [{"label": "1"}, {"label": "2"}])
    with pytest.raises(InputError, match=r"train.tsv, line 2: label '0', which .*labels.json does not list"):
        load_dataset(train, labels=labels)
    twice = _lines(tmp_path / "twice.json", [{"label": "1"}, {"label": "1"}])
    with pytest.raises(InputError, match=r"twice.json, line 2: label '1' is listed twice"):
        load_dataset(train, labels=twice)
    one = _lines(tmp_path / "one.tsv", ["好\t1", "棒\t1"])
    with pytest.raises(InputError, match="every example has the label '1'"):
        load_dataset(one, dev=one)
    (tmp_path / "no_data").mkdir()
    with pytest.raises(InputError, match="neither train.json nor train.tsv"):
        load_dataset(tmp_path / "no_data")
    gbk = tmp_path / "gbk.tsv"
    gbk.write_bytes("很好\t1\n".encode("gbk"))
    with pytest.raises(InputError, match="gb18030"):
        read_examples(gbk)
    assert read_examples(gbk, encoding="gbk")[0] == [Example("很好", "1")]
