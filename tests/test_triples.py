"""Triple extraction (zhnlp/triples): the DuIE data with the schema, exact-match scores and the
dictionary baseline."""
from __future__ import annotations

import json

import pytest

from zhnlp.errors import InputError
from zhnlp.triples.data import Triple, occurrences, read_schema, read_sentences
from zhnlp.triples.known import TripleDictionary
from zhnlp.triples.metrics import triple_scores

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


def test_distant_supervision_marks_found_triples_and_cross_fitting_hides_a_sentences_own(tmp_path):
    import numpy as np

    from zhnlp.triples.data import Sentence
    from zhnlp.triples.known import cross_fitted

    dictionary = TripleDictionary([Sentence("", [Triple("三体", "作者", "刘慈欣"), Triple("三体", "作者", "某人"),
                                                 Triple("刘慈欣", "出生地", "北京"), Triple("三", "作者", "x")])])
    text = "刘慈欣写了三体，三体很好看"
    assert dictionary.subject_spans(text) == [(5, 7, "三体"), (8, 10, "三体")]  # 刘慈欣: 北京 absent; 三: x absent
    assert dictionary(text) == {Triple("三体", "作者", "刘慈欣")}
    marks = dictionary.subject_marks(text)
    assert marks.shape == (13, 2) and list(np.flatnonzero(marks[:, 0])) == [5, 8] and list(np.flatnonzero(marks[:, 1])) == [6, 9]
    objects = dictionary.object_marks(text, "三体", {"作者": 0, "出生地": 1}, length=16)
    assert objects.shape == (16, 2, 2) and objects[0, 0, 0] == objects[2, 0, 1] == 1 and objects.sum() == 2
    assert dictionary.object_marks(text, "鲁迅", {"作者": 0, "出生地": 1}).sum() == 0
    dictionary.save(tmp_path / "known.tsv")
    again = TripleDictionary.from_file(tmp_path / "known.tsv")
    assert again.by_subject == dictionary.by_subject and len(again) == 4
    (tmp_path / "bad.tsv").write_text("三体\t作者\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.tsv, line 1: not subject<TAB>predicate<TAB>object"):
        TripleDictionary.from_file(tmp_path / "bad.tsv")

    shared, own = Triple("围城", "作者", "钱钟书"), [Triple(f"书{i}", "作者", f"人{i}") for i in range(20)]
    sentences = [Sentence(f"《书{i}》是人{i}写的，《围城》是钱钟书写的", [own[i], shared]) for i in range(20)]
    for sentence, folds in zip(sentences, cross_fitted(sentences, folds=5)):
        found = folds(sentence.text)
        assert shared in found and not set(sentence.triples) - {shared} & found  # others' shared triple, never its own


def test_entity_swaps_rename_one_entity_everywhere_with_another_of_its_type(tmp_path):
    import numpy as np

    from zhnlp.triples.augment import augmented, entity_pools, swap_entity
    from zhnlp.triples.data import Sentence, read_entity_types

    types = read_entity_types(_write(tmp_path / "schema.json", SCHEMA))
    assert types == {"作者": ("图书作品", "人物"), "出生地": ("人物", "地点")}
    train = [Sentence("《三体》是刘慈欣写的，刘慈欣生于北京", [Triple("三体", "作者", "刘慈欣"), Triple("刘慈欣", "出生地", "北京")]),
             Sentence("《围城》是钱钟书写的", [Triple("围城", "作者", "钱钟书")]),
             Sentence("老舍生于天津", [Triple("老舍", "出生地", "天津")])]
    pools = entity_pools(train, types)
    assert pools == {"图书作品": ["三体", "围城"], "人物": ["刘慈欣", "老舍", "钱钟书"], "地点": ["北京", "天津"]}
    seen = set()
    for seed in range(30):
        copy = swap_entity(train[0], types, pools, np.random.default_rng(seed))
        assert copy is not None and copy.text != train[0].text
        assert all(t.subject in copy.text and t.object in copy.text for t in copy.triples)
        assert [t.predicate for t in copy.triples] == ["作者", "出生地"]
        changed = {a for t, u in zip(train[0].triples, copy.triples) for a, b in
                   ((t.subject, u.subject), (t.object, u.object)) if a != b}
        assert len(changed) == 1  # one entity, renamed in every triple and everywhere in the text
        (name,) = changed
        assert name not in copy.text
        seen.add(name)
        new = {u.subject if t.subject == name else u.object for t, u in zip(train[0].triples, copy.triples)
               if name in (t.subject, t.object)}
        assert new <= set(pools[{"三体": "图书作品", "刘慈欣": "人物", "北京": "地点"}[name]])  # of its type
    assert seen == {"三体", "刘慈欣", "北京"}
    nested = Sentence("刘慈欣文集很好", [Triple("刘慈欣文集", "作者", "刘慈欣")])
    assert swap_entity(nested, types, pools, np.random.default_rng(0)) is None  # one inside the other: never
    copies = augmented(train, types, 2, seed=1)
    assert copies == augmented(train, types, 2, seed=1) and {i for i, _ in copies} == {0, 1, 2}


def test_each_start_takes_the_nearest_end_at_or_after_it_and_windows_overlap():
    import numpy as np

    from zhnlp.triples.extract import pair_spans, windows

    starts = np.array([0.9, 0.1, 0.7, 0.1, 0.1])
    ends = np.array([0.1, 0.6, 0.1, 0.1, 0.9])
    assert pair_spans(starts, ends) == [(0, 1), (2, 4)]
    assert pair_spans(np.array([0.1, 0.1, 0.9]), np.array([0.9, 0.1, 0.1])) == []  # no end after the start
    assert windows(10, 32, 8) == [(0, 10)]
    spans = windows(100, 32, 8)
    assert spans[0] == (0, 32) and spans[-1][1] == 100 and all(b[0] == a[1] - 8 for a, b in zip(spans, spans[1:]))


# ------------------------------------------------------------------------------------------ the model
from .conftest import needs_torch, optional_module  # noqa: E402

torch = optional_module("torch")
NAMES = ["刘慈欣", "金庸", "冰火未央", "古龙", "韩寒", "三毛", "鲁迅", "老舍", "巴金", "钱钟书", "沈从文", "萧红"]
BOOKS = ["三体", "天龙八部", "邪少兵王", "七种武器", "三重门", "撒哈拉", "呐喊", "茶馆", "家", "围城", "边城", "呼兰河传"]
PLACES = ["北京", "香港", "上海", "苏州", "杭州", "重庆", "绍兴", "天津", "成都", "无锡", "湘西", "哈尔滨"]


def _synthetic(tmp_path, sentences: int = 400, seed: int = 0):
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(sentences):
        i, j = rng.randrange(12), rng.randrange(12)
        if rng.random() < 0.5:
            rows.append({"text": f"《{BOOKS[i]}》是{NAMES[j]}写的小说", "spo_list": [_spo(BOOKS[i], "作者", NAMES[j])]})
        else:
            rows.append({"text": f"{NAMES[i]}出生于{PLACES[j]}，后来去了{PLACES[(j + 1) % 12]}",
                         "spo_list": [_spo(NAMES[i], "出生地", PLACES[j])]})
    folder = tmp_path / "data"
    folder.mkdir()
    _write(folder / "train.json", rows)
    _write(folder / "schema.json", SCHEMA)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    if torch is None:
        pytest.skip("needs torch")
    from zhnlp.training import TrainerConfig
    from zhnlp.triples.train import train_triples

    tmp_path = tmp_path_factory.mktemp("triples")
    data = _synthetic(tmp_path)
    config = {"embedding_dim": 32, "dilations": (1, 2, 1), "attention_heads": 2, "dropout": 0.0, "max_positions": 48}
    summary = train_triples(data, tmp_path / "m", config=config, batch_size=32, show_progress=False,
                            trainer_config=TrainerConfig(max_steps=240, lr=5e-3, warmup_steps=20, eval_every=120,
                                                         metric="f1", ema_decay=0.0))
    return tmp_path, summary


@needs_torch
def test_the_light_extractor_learns_triples_with_exact_spans(trained):
    from zhnlp.triples import TripleExtractor

    tmp_path, summary = trained
    assert summary["steps"] == 240 and summary["best_dev_f1"] > 0.8
    extractor = TripleExtractor.from_pretrained(tmp_path / "m", device="cpu")
    saved = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))["thresholds"]
    assert saved == summary["thresholds"] == list(extractor.thresholds) and summary["dev_f1_with_them"] >= 0.8
    found = extractor(["《围城》是金庸写的小说", "鲁迅出生于成都，后来去了天津"])
    assert {(t.subject, t.predicate, t.object) for t in found[0].triples} == {("围城", "作者", "金庸")}
    assert {(t.subject, t.predicate, t.object) for t in found[1].triples} == {("鲁迅", "出生地", "成都")}
    for extraction in found:
        for t in extraction.triples:
            assert extraction.text[slice(*t.subject_span)] == t.subject
            assert extraction.text[slice(*t.object_span)] == t.object and 0 < t.score <= 1
    from zhnlp.triples.extract import extract_batch

    texts = ["《围城》是金庸写的小说", "鲁迅出生于成都，后来去了天津", "《茶馆》是老舍写的小说，老舍出生于北京"] * 3
    one_row = extract_batch(extractor.model, extractor.pieces, extractor.predicates, texts, extractor.thresholds[:2],
                            extractor.thresholds[2:], max_tokens=16)
    assert [e.triples for e in one_row] == [e.triples for e in extractor(texts)]  # batching changes no answer
    # a sentence longer than the model's 48 positions is read in overlapping windows: its tail's triple is found
    long = "这是一段很长的开头，" * 6 + "《茶馆》是老舍写的小说"
    tail = [t for t in extractor(long).triples if (t.subject, t.predicate, t.object) == ("茶馆", "作者", "老舍")]
    assert len(tail) == 1 and long[slice(*tail[0].subject_span)] == "茶馆" and tail[0].subject_span[0] > 48


def test_thresholds_are_chosen_on_dev_between_the_true_and_the_false_pointers():
    import numpy as np

    from zhnlp.triples.data import Sentence
    from zhnlp.triples.extract import CharPieces, tune_thresholds

    class Pointers:  # subject 甲乙 at 0.45 and a false start 丙 at 0.25; object 丙丁 (predicate 0) at 0.9
        runs_in_numpy = True
        calls = 0

        def encode(self, ids):
            Pointers.calls += 1
            return ids.astype(np.float32)[..., None], ids != 0

        def subject_probs(self, encoded, mask):
            probs = np.zeros((*encoded.shape[:2], 2), np.float32)
            probs[:, 0, 0] = probs[:, 1, 1] = 0.45
            probs[:, 2, 0] = probs[:, 3, 1] = 0.25
            return probs

        def object_probs(self, encoded, spans):
            probs = np.zeros((len(spans), encoded.shape[1], 2, 2), np.float32)
            probs[spans[:, 0] == 0, 2, 0, 0] = probs[spans[:, 0] == 0, 3, 0, 1] = 0.9
            probs[spans[:, 0] == 2, 0, 1, 0] = probs[spans[:, 0] == 2, 1, 1, 1] = 0.9  # what the false subject gives
            return probs

    pieces = CharPieces({c: i + 2 for i, c in enumerate("甲乙丙丁")}, 16)
    dev = [Sentence("甲乙丙丁", [Triple("甲乙", "作者", "丙丁")])] * 3
    chosen = tune_thresholds(Pointers(), pieces, ["作者", "出生地"], dev)
    assert chosen["f1_before"] == 0.0 and chosen["f1"] == 1.0  # the original's 0.6 finds no subject
    start, end = chosen["thresholds"][:2]
    assert start < 0.45 and end < 0.45 and max(start, end) >= 0.25  # the true subject in, the false one out
    assert Pointers.calls == 1  # the model ran once; every try decoded its pointers again


@needs_torch
def test_distant_supervision_starts_from_an_init_folder_as_that_model_and_round_trips(trained, tmp_path):
    import numpy as np
    from safetensors.torch import load_file

    from zhnlp.splits import dev_split
    from zhnlp.training import TrainerConfig
    from zhnlp.triples import TripleExtractor, read_schema, read_sentences
    from zhnlp.triples.extract import extract_batch
    from zhnlp.triples.folder import TripleConfig
    from zhnlp.triples.model import TripleModel
    from zhnlp.triples.train import train_triples

    folder, _ = trained
    data = folder / "data"
    texts = ["《围城》是金庸写的小说", "鲁迅出生于成都，后来去了天津", "《茶馆》是老舍写的小说，老舍出生于北京"]
    before = TripleExtractor.from_pretrained(folder / "m", device="cpu")
    config = {"known_triples": True}

    def run(steps, out, swaps=0):
        return train_triples(data, out, config=config, init_from=folder / "m", batch_size=32, show_progress=False,
                             entity_swaps=swaps,
                             trainer_config=TrainerConfig(max_steps=steps, lr=1e-3, warmup_steps=1, eval_every=steps,
                                                          metric="f1", ema_decay=0.0))

    run(1, tmp_path / "k0")  # one step: still (nearly) the init folder's model
    start = TripleExtractor.from_pretrained(tmp_path / "k0", device="cpu")
    assert start.pieces.known is not None and start.pieces(texts[0])[0].shape == (11, 3)  # characters, two marks
    ids = np.zeros((1, 11), dtype=np.int64)
    ids[0] = start.pieces(texts[0])[0][:, 0]
    ids_known = start.pieces(texts[0])[0][None]
    a = before.model.subject_probs(*before.model.encode(ids))
    b = start.model.subject_probs(*start.model.encode(ids_known))
    assert np.allclose(a, b, atol=2e-3)  # the marks' projections start at zero
    summary = run(40, tmp_path / "k", swaps=1)
    assert summary["steps"] == 40 and summary["swapped_copies"] > 300  # one copy of nearly every sentence
    with pytest.raises(InputError, match=r"--entity-swaps 0 \(.* was trained with 1\)"):
        run(40, tmp_path / "k", swaps=0)
    known = (tmp_path / "k" / "known_triples.tsv").read_text(encoding="utf-8").split("\n")[:-1]
    schema = read_schema(data / "schema.json")
    split = dev_split(read_sentences(data / "train.json", schema)[0], 0.1, 0)
    assert sorted(known) == sorted({"\t".join((t.subject, t.predicate, t.object)) for s in split[0] for t in s.triples})
    extractor = TripleExtractor.from_pretrained(tmp_path / "k", device="cpu")
    config_k = TripleConfig.from_dict(json.loads((tmp_path / "k" / "config.json").read_text(encoding="utf-8")))
    torch_model = TripleModel(config_k)
    torch_model.load_state_dict({k: v.float() for k, v in load_file(str(tmp_path / "k" / "model.safetensors")).items()})
    in_torch = extract_batch(torch_model, extractor.pieces, extractor.predicates, texts, extractor.thresholds[:2],
                             extractor.thresholds[2:])
    in_numpy = extractor(texts, add_known=False)
    assert [[(t.subject, t.predicate, t.object) for t in e.triples] for e in in_torch] == \
        [[(t.subject, t.predicate, t.object) for t in e.triples] for e in in_numpy]
    assert isinstance(config_k.add_known, bool) and 0 <= config_k.known_score <= 1  # chosen on dev after training
    unseen = "《三体》是金庸写的小说，《茶馆》是老舍写的小说"
    known_here = extractor.pieces.known(unseen)
    with_known = extractor(unseen, add_known=True)
    assert known_here and known_here <= {Triple(t.subject, t.predicate, t.object) for t in with_known.triples}
    for t in with_known.triples:  # every added triple spelled at its spans, in span order
        assert unseen[slice(*t.subject_span)] == t.subject and unseen[slice(*t.object_span)] == t.object
    assert [t.subject_span for t in with_known.triples] == sorted(t.subject_span for t in with_known.triples)
    with pytest.raises(InputError, match="no dictionary of known triples"):
        TripleExtractor.from_pretrained(folder / "m", device="cpu")(texts, add_known=True)
    with pytest.raises(InputError, match="--known-triples is the light model's"):
        train_triples(data, tmp_path / "b", config=config, model=str(tmp_path / "missing"), show_progress=False)


@needs_torch
def test_word_features_add_each_characters_frozen_word_vector(tmp_path):
    import numpy as np
    from safetensors.numpy import load_file

    from zhnlp.training import TrainerConfig
    from zhnlp.triples import TripleExtractor
    from zhnlp.triples.train import train_triples
    from zhnlp.vectors import Vectors

    data = _synthetic(tmp_path, sentences=200)
    tokens = sorted(set("".join(NAMES + BOOKS + PLACES))) + [w for w in NAMES + BOOKS if len(w) > 1]  # one space
    matrix = np.random.default_rng(0).normal(size=(len(tokens), 16)).astype(np.float32)
    Vectors(tokens, matrix, {}).save_pretrained(tmp_path / "vectors")
    summary = train_triples(data, tmp_path / "m", config={"embedding_dim": 16, "dilations": (1, 2), "attention_heads": 2,
                                                          "dropout": 0.0, "max_positions": 48},
                            vectors=tmp_path / "vectors", batch_size=32, show_progress=False,
                            trainer_config=TrainerConfig(max_steps=30, lr=5e-3, warmup_steps=5, eval_every=30,
                                                         metric="f1", ema_decay=0.0))
    assert summary["vectors"].startswith(f"characters: {len(set(''.join(NAMES + BOOKS + PLACES)))} rows from vectors")
    words = (tmp_path / "m" / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert words[:2] == ["[PAD]", "[UNK]"] and words[2:] == tokens
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert np.abs(weights["words.weight"][2:].astype(np.float32) - matrix).max() < 1e-2  # frozen: still the vectors (half precision)
    extractor = TripleExtractor.from_pretrained(tmp_path / "m", device="cpu")
    ids, spans = extractor.pieces("《天龙八部》是冰火未央写的")  # cut 《 天龙八部 》 是 冰火 未央 写 的
    index = {w: i for i, w in enumerate(words)}
    assert ids.shape == (13, 2) and list(ids[1:5, 1]) == [index["天龙八部"]] * 4  # each character: its word's id
    assert list(ids[7:11, 1]) == [index[c] for c in "冰火未央"]  # words without a vector: their characters'
    assert ids[0, 1] == ids[11, 1] == 1 and ids[1, 0] != ids[2, 0]  # 《 and 写 have no vector: unknown
    found = extractor(["《三体》是冰火未央写的", "鲁迅出生于成都"])
    assert len(found) == 2 and all(t.subject in f.text for f in found for t in f.triples)


@needs_torch
def test_the_triples_command_prints_a_blank_line_after_each_sentence(trained, tmp_path):
    from .test_title_models import _cli

    model_dir, _ = trained
    lines = tmp_path / "in.txt"
    lines.write_text("《围城》是金庸写的小说\n\n鲁迅出生于成都，后来去了天津\n", encoding="utf-8")
    plain = _cli("triples", lines, "--model", model_dir / "m", "--device", "cpu")
    assert plain.exit_code == 0, plain.output
    assert plain.stdout == "围城\t作者\t金庸\n\n\n鲁迅\t出生地\t成都\n\n"
    shown = _cli("triples", lines, "--model", model_dir / "m", "--json")
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(records) == 3 and records[1] == {"text": "", "spo_list": []}
    assert set(records[0]["spo_list"][0]) == {"subject", "predicate", "object", "subject_span", "object_span", "score"}
    scored = _cli("evaluate", "triples", "--data", model_dir / "data" / "train.json", "--model", model_dir / "m",
                  "--json")
    assert json.loads(scored.stdout)["f1"] > 0.8
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("《围城》是金庸写的小说\n".encode("gbk"))
    failed = _cli("triples", gbk, "--model", model_dir / "m")
    assert failed.exit_code == 1 and "gb18030" in failed.stderr and "Traceback" not in failed.output
    assert _cli("triples", gbk, "--model", model_dir / "m", "--encoding", "gbk").stdout == "围城\t作者\t金庸\n\n"
    assert _cli("triples", "-", "--model", model_dir / "m", input="").stdout == ""  # nothing in, nothing out
    from .conftest import random_couplet_folder

    random_couplet_folder(tmp_path / "couplet", ["[PAD]", "[UNK]", "天", "地"])
    wrong = _cli("triples", "天地", "--model", tmp_path / "couplet")
    assert wrong.exit_code == 1 and "holds a couplet model, not a triples model" in wrong.stderr
    assert _cli("triples", "天地", "--model", tmp_path / "nowhere").exit_code == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "schema.json").write_text(json.dumps(SCHEMA[0], ensure_ascii=False) + "\n", encoding="utf-8")
    (bad / "train.json").write_text('{"text": "甲", "spo_list": []}\n{"text": \n', encoding="utf-8")
    failed = _cli("train", "triples", "--data", bad, "-o", tmp_path / "out")
    assert failed.exit_code == 1 and "train.json, line 2: malformed JSON" in failed.stderr


@needs_torch
def test_the_conditional_layer_norm_starts_as_a_plain_layer_norm():
    from zhnlp.triples.model import ConditionalLayerNorm

    layer = ConditionalLayerNorm(8, 16)
    x, condition = torch.randn(2, 5, 8), torch.randn(2, 16)
    assert torch.allclose(layer(x, condition), layer.norm(x))
    with torch.no_grad():
        layer.scale.weight.fill_(0.1)
    assert not torch.allclose(layer(x, condition), layer.norm(x))  # the condition moves it once trained


@needs_torch
@pytest.mark.parametrize("word_vocab_size,known_triples", [(0, False), (12, False), (0, True), (12, True)])
def test_the_numpy_runtime_computes_what_the_torch_model_computes(tmp_path, word_vocab_size, known_triples):
    import numpy as np

    from zhnlp.triples.folder import TripleConfig
    from zhnlp.triples.model import TripleModel
    from zhnlp.triples.numpy_model import NumpyTripleModel

    torch.manual_seed(0)
    model = TripleModel(TripleConfig(vocab_size=30, num_predicates=3, embedding_dim=16, dilations=(1, 2),
                                     attention_heads=2, max_positions=40, word_vocab_size=word_vocab_size,
                                     word_dim=8, known_triples=known_triples)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)  # the zero-initialised condition (and known_*) included
    twin = NumpyTripleModel(model.config, {k: v.numpy() for k, v in model.state_dict().items()})
    ids = np.array([[3, 4, 5, 6, 7, 8], [9, 10, 11, 0, 0, 0]])
    if word_vocab_size:  # (B, T, 2): each character's word id beside it
        ids = np.stack([ids, np.array([[2, 2, 5, 5, 5, 1], [7, 7, 3, 0, 0, 0]])], -1)
    known = ()
    if known_triples:  # two more columns, the subject marks; and the object marks per predicate
        marks = np.zeros((*ids.shape[:2], 2), dtype=np.int64)
        marks[0, 1, 0] = marks[0, 2, 1] = 1
        ids = np.concatenate([ids.reshape(*ids.shape[:2], -1), marks], -1)
        known = (np.zeros((2, 6, 3, 2), dtype=np.float32),)
        known[0][0, 4, 2, 0] = known[0][0, 5, 2, 1] = 1
    spans = np.array([[1, 2], [0, 1]])
    with torch.no_grad():
        encoded, mask = model.encode(torch.from_numpy(ids))
        subjects = model.subject_probs(encoded, mask).numpy()
        objects = model.object_probs(encoded, torch.from_numpy(spans), *map(torch.from_numpy, known)).numpy()
        if known_triples:  # the marks move the model
            plain = model.object_probs(encoded, torch.from_numpy(spans), torch.zeros(2, 6, 3, 2)).numpy()
            assert not np.allclose(plain[0, 4, 2], objects[0, 4, 2])
    encoded_np, mask_np = twin.encode(ids)
    real = mask_np[..., None]
    assert np.allclose(encoded_np * real, encoded.numpy() * real, atol=1e-5)
    assert np.allclose(twin.subject_probs(encoded_np, mask_np)[mask_np], subjects[mask_np], atol=1e-5)
    assert np.allclose(twin.object_probs(encoded_np, spans, *known)[mask_np], objects[mask_np], atol=1e-5)


def _tiny_char_bert(folder, texts):
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    chars = sorted(set("".join(texts)))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n",
                                      encoding="utf-8")
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n",
                                      encoding="utf-8")
    return tokenizer


@needs_torch
def test_the_bert_encoder_aligns_labels_through_offsets_and_round_trips(tmp_path):
    from zhnlp.training import TrainerConfig
    from zhnlp.triples import TripleExtractor
    from zhnlp.triples.data import Sentence
    from zhnlp.triples.extract import TokenizerPieces
    from zhnlp.triples.train import label, train_triples

    data = _synthetic(tmp_path, sentences=120)
    texts = [json.loads(line)["text"] for line in (data / "train.json").read_text(encoding="utf-8").splitlines()]
    tokenizer = _tiny_char_bert(tmp_path / "bert", texts + ["这是一段很长的开头，"])
    pieces = TokenizerPieces(tokenizer, 64)
    ids, spans = pieces("《围城》是金庸写的小说")
    assert tokenizer.convert_ids_to_tokens(ids)[0] == "[CLS]" and spans[0] == (0, 0)  # [CLS]: no characters
    spoes = label(Sentence("《围城》是金庸写的小说", [Triple("围城", "作者", "金庸")]), {"作者": 0}, spans)
    assert spoes == {(2, 3): [(6, 7, 0)]}  # token indices: [CLS] shifts every character by one
    summary = train_triples(data, tmp_path / "m", model=str(tmp_path / "bert"), batch_size=16, show_progress=False,
                            trainer_config=TrainerConfig(max_steps=60, lr=2e-3, warmup_steps=5, eval_every=30,
                                                         metric="f1", ema_decay=0.0))
    assert summary["steps"] == 60 and (tmp_path / "m" / "bert" / "config.json").is_file()
    extractor = TripleExtractor.from_pretrained(tmp_path / "m", device="cpu")
    long = "这是一段很长的开头，" * 8 + "《围城》是金庸写的小说"  # longer than 64 positions: windows
    for extraction in extractor(["《围城》是金庸写的小说", long]):
        for t in extraction.triples:  # whatever it finds maps back to exact character spans
            assert extraction.text[slice(*t.subject_span)] == t.subject
            assert extraction.text[slice(*t.object_span)] == t.object


def test_the_shipped_model_extracts_out_of_the_box():
    from zhnlp.triples import TripleExtractor

    extractor = TripleExtractor.from_pretrained()  # data/models/triples, no flags, numpy on the CPU
    text = "周杰伦演唱的《稻香》收录在专辑《魔杰座》中"
    found = extractor(text)
    assert extractor.description == "cpu (numpy)" and found.triples
    assert all(text[slice(*t.subject_span)] == t.subject and text[slice(*t.object_span)] == t.object
               for t in found.triples)
    from .conftest import SHARED_DATA

    data = SHARED_DATA / "triples"
    if not data.is_dir():
        pytest.skip(f"the shipped model's dev score needs the shared data in {data}")
    from zhnlp.splits import dev_split

    _, dev = dev_split(read_sentences(data / "train.json", read_schema(data / "schema.json"))[0], 0.1, seed=0)
    predicted = [{Triple(t.subject, t.predicate, t.object) for t in f.triples}
                 for f in extractor([s.text for s in dev[:300]])]
    assert triple_scores(predicted, [s.triples for s in dev[:300]])["f1"] > 0.45  # 0.526 on all 940 when shipped
