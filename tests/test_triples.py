"""Triple extraction (zhnlp/triples): the DuIE data with the schema, exact-match scores and the
dictionary baseline."""
from __future__ import annotations

import json

import pytest

from zhnlp.errors import InputError
from zhnlp.triples.data import Triple, occurrences, read_schema, read_sentences
from zhnlp.triples.metrics import TripleDictionary, triple_scores

SCHEMA = [{"predicate": "作者", "subject_type": "图书作品", "object_type": {"@value": "人物"}},
          {"predicate": "出生地", "subject_type": "人物", "object_type": {"@value": "地点"}}]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _spo(s, p, o):
    return {"subject": s, "predicate": p, "object": {"@value": o, "inWork": "x"}}


def test_sentences_are_read_with_the_main_object_and_bad_triples_are_skipped_or_named(tmp_path):
    schema = read_schema(_write(tmp_path / "schema.json", SCHEMA))
    assert schema == ["作者", "出生地"]
    data = _write(tmp_path / "train.json", [
        {"text": "《三体》是刘慈欣写的小说", "spo_list": [_spo("三体", "作者", "刘慈欣"), _spo("三体", "作者", "大刘")]},
        {"text": "刘慈欣出生于北京", "spo_list": [_spo("刘慈欣", "出生地", "北京"), _spo("刘慈欣", "出生地", "北京")]}])
    sentences, report = read_sentences(data, schema)
    assert [s.triples for s in sentences] == [[Triple("三体", "作者", "刘慈欣")], [Triple("刘慈欣", "出生地", "北京")]]
    assert report.triples == 4 and report.skipped_not_in_text == 1  # 大刘 is not in its text; a duplicate is one
    bad = _write(tmp_path / "bad.json", [{"text": "甲", "spo_list": [_spo("甲", "朋友", "乙")]}])
    with pytest.raises(InputError, match="line 1: predicate '朋友' is not in the schema"):
        read_sentences(bad, schema)
    broken = tmp_path / "broken.json"
    broken.write_text('{"text": "好", "spo_list": []}\n{"text": \n', encoding="utf-8")
    with pytest.raises(InputError, match="broken.json, line 2: malformed JSON"):
        read_sentences(broken, schema)
    assert occurrences("刘慈欣和刘慈欣", "刘慈欣") == [(0, 3), (4, 7)] and occurrences("啊啊啊", "啊啊") == [(0, 2), (1, 3)]


def test_exact_match_scores_are_micro_over_sets_with_a_table_per_predicate():
    gold = [[Triple("三体", "作者", "刘慈欣")], [Triple("刘慈欣", "出生地", "北京"), Triple("刘慈欣", "出生地", "山西")]]
    predicted = [[Triple("三体", "作者", "刘慈欣"), Triple("三体", "作者", "刘慈欣")], [Triple("刘慈欣", "出生地", "北京市")]]
    scores = triple_scores(predicted, gold)
    assert (scores["correct"], scores["predicted"], scores["gold"]) == (1, 2, 3)  # a repeat counts once
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(0.4)
    assert scores["per_predicate"]["作者"]["f1"] == 1.0 and scores["per_predicate"]["出生地"]["f1"] == 0.0


def test_the_dictionary_finds_training_triples_whose_subject_and_object_occur():
    from zhnlp.triples.data import Sentence

    dictionary = TripleDictionary([Sentence("《三体》是刘慈欣写的", [Triple("三体", "作者", "刘慈欣")])])
    assert dictionary("刘慈欣的三体很好看") == {Triple("三体", "作者", "刘慈欣")}
    assert dictionary("三体很好看") == set()  # the object is missing
