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


# ------------------------------------------------------------------------------- the classifier
from .conftest import needs_torch  # noqa: E402

SPORTS, FINANCE = "球赛队员进攻冠军比分教练", "股票基金银行利率市场债券"


def _task(tmp_path, n: int = 300, seed: int = 0):
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        sports = rng.random() < 0.5
        pool = SPORTS if sports else FINANCE
        rows.append({"label": "103" if sports else "104", "label_desc": "news_sports" if sports else "news_finance",
                     "sentence": "".join(rng.choice(pool) for _ in range(rng.randrange(4, 12)))})
    folder = tmp_path / "task"
    folder.mkdir()
    _lines(folder / "train.json", rows)
    return folder


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    pytest.importorskip("torch")
    from zhnlp.classification import train_classifier
    from zhnlp.training import TrainerConfig

    tmp_path = tmp_path_factory.mktemp("classifier")
    task = _task(tmp_path)
    summary = train_classifier(task, tmp_path / "m", size="tiny", show_progress=False,
                               trainer_config=TrainerConfig(max_steps=60, lr=1e-3, warmup_steps=5, eval_every=30,
                                                            metric="accuracy", device="cpu"))
    return tmp_path, summary


@needs_torch
def test_the_default_recipes_train_for_their_epochs(tmp_path):
    # the recipes once carried TrainerConfig's 10,000 steps, which outran any --epochs
    from zhnlp.classification import train_classifier
    from zhnlp.classification.train import FROM_SCRATCH
    from zhnlp.training import TrainerConfig

    task = _task(tmp_path, n=100)
    summary = train_classifier(task, tmp_path / "m", size="tiny", epochs=2, batch_size=30, show_progress=False,
                               trainer_config=TrainerConfig(**{**FROM_SCRATCH, "device": "cpu"}))
    assert summary["steps"] == 2 * 3 and summary["epochs"] == 2.0  # 90 training examples: 3 batches an epoch


@needs_torch
def test_a_classifier_from_scratch_learns_and_is_a_transformers_folder(scratch):
    from transformers import BertForSequenceClassification

    from zhnlp.classification import Classifier
    from zhnlp.hub import model_type_of

    tmp_path, summary = scratch
    assert summary["best_dev_accuracy"] >= 0.9 and summary["dev"] == "0.1 of train.json, seed 0"
    assert model_type_of(tmp_path / "m") == "classifier"
    loaded = BertForSequenceClassification.from_pretrained(tmp_path / "m")  # what transformers users do
    assert loaded.config.id2label == {0: "103", 1: "104"} and loaded.config.model_type == "bert"
    classifier = Classifier.from_pretrained(tmp_path / "m", device="cpu")
    found = classifier(["冠军队员进攻", "银行利率股票债券", "教练"])
    assert [f["label"] for f in found] == ["103", "104", "103"]
    assert found[1]["label_desc"] == "news_finance" and 0.5 < found[1]["score"] <= 1
    assert classifier("基金市场") == classifier(["基金市场"])[0]  # a string gives one
    texts = ["冠军", "银行利率股票债券市场基金", "比分"]  # batches sorted by length give the texts' own order back
    assert [f["label"] for f in classifier(texts, batch_size=1)] == [f["label"] for f in classifier(texts)]


@needs_torch
def test_classify_and_evaluate_commands(scratch):
    from .test_title_models import _cli

    tmp_path, _ = scratch
    lines = tmp_path / "lines.txt"
    lines.write_text("冠军队员进攻\n\n银行利率股票\n", encoding="utf-8")
    plain = _cli("classify", lines, "--model", tmp_path / "m", "--device", "cpu")
    assert plain.exit_code == 0 and plain.stdout == "103\n\n104\n"
    shown = [json.loads(line) if line else None for line in
             _cli("classify", lines, "--model", tmp_path / "m", "--json").stdout.split("\n")[:-1]]
    assert shown[1] is None and shown[0]["label"] == "103" and set(shown[2]) == {"label", "label_desc", "score"}
    assert _cli("classify", "-", "--model", tmp_path / "m", input="").stdout == ""  # nothing in, nothing out
    scored = _cli("evaluate", "classifier", "--data", tmp_path / "task", "--model", tmp_path / "m", "--json")
    scores = json.loads(scored.stdout)
    assert scores["accuracy"] >= 0.9 and 0.9 <= scores["macro_f1"] <= 1 and scores["examples"] == 300
    other = _lines(tmp_path / "other.tsv", ["冠军\t103", "天气\t120"])
    failed = _cli("evaluate", "classifier", "--data", other, "--model", tmp_path / "m")
    assert failed.exit_code == 1 and "other.tsv, line 2: label '120' is not one of the model's 2 labels" in failed.stderr
    from .conftest import random_couplet_folder

    random_couplet_folder(tmp_path / "couplet", ["[PAD]", "[UNK]", "天", "地"])
    wrong = _cli("classify", "天地", "--model", tmp_path / "couplet")
    assert wrong.exit_code == 1 and "holds a couplet model, not a classifier model" in wrong.stderr
    bad = _cli("train", "classifier", "--data", _lines(tmp_path / "bad.tsv", ["好\t1", "坏"]), "-o", tmp_path / "x")
    assert bad.exit_code == 1 and "bad.tsv, line 2: no tab" in bad.stderr and "Traceback" not in bad.output


@needs_torch
def test_fine_tuning_a_bert_folder_and_accuracy_with_macro_f1(tmp_path):
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    from zhnlp.classification import Classifier, train_classifier
    from zhnlp.classification.train import accuracy_and_macro_f1, char_vocab
    from zhnlp.training import TrainerConfig

    scores = accuracy_and_macro_f1(["a", "a", "b", "c"], ["a", "b", "b", "b"])
    assert scores["accuracy"] == 0.5 and scores["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    task = _task(tmp_path, n=200)
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "vocab.txt").write_text("\n".join(char_vocab([SPORTS + FINANCE], 1)) + "\n", encoding="utf-8")
    BertTokenizerFast(str(bert / "vocab.txt")).save_pretrained(bert)
    BertForMaskedLM(BertConfig(vocab_size=29, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64)).save_pretrained(bert)
    summary = train_classifier(task, tmp_path / "m", model=bert, show_progress=False,
                               trainer_config=TrainerConfig(max_steps=40, lr=2e-3, warmup_steps=4, eval_every=40,
                                                            metric="accuracy", device="cpu"))
    assert summary["best_dev_accuracy"] >= 0.8 and summary["labels"] == 2
    assert Classifier.from_pretrained(tmp_path / "m", device="cpu")("股票基金")["label"] == "104"
    # a classifier trained further on a task with other labels gets a new head of the right size
    more = _lines(tmp_path / "three.tsv", [f"{c}\t{i % 3}" for i, c in enumerate((SPORTS + FINANCE) * 5)])
    again = train_classifier(more, tmp_path / "m3", model=tmp_path / "m", show_progress=False,
                             trainer_config=TrainerConfig(max_steps=5, lr=1e-3, warmup_steps=1, device="cpu"))
    assert again["labels"] == 3 and Classifier.from_pretrained(tmp_path / "m3", device="cpu").labels == ["0", "1", "2"]


# ------------------------------------------------------------------------------- BERT-of-Theseus
def test_theseus_groups_and_schedules():
    from zhnlp.classification.theseus import layer_groups, replacement_probability

    assert layer_groups(6, 3) == [range(0, 2), range(2, 4), range(4, 6)]
    assert layer_groups(5, 2) == [range(0, 2), range(2, 5)]  # every layer in exactly one group
    assert replacement_probability(1000, "constant", 0.5, 0.01) == 0.5
    assert replacement_probability(10, "linear", 0.3, 0.01) == pytest.approx(0.4)
    assert replacement_probability(1000, "linear", 0.3, 0.01) == 1.0


@needs_torch
def test_theseus_trains_only_the_successor_and_its_eval_is_the_compressed_model():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from zhnlp.classification.theseus import _theseus_model

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=3)
    predecessor = BertForSequenceClassification(config)
    before = {k: v.clone() for k, v in predecessor.state_dict().items()}
    theseus = _theseus_model(predecessor, 2, "spread")
    ids = torch.tensor([[2, 5, 7, 9, 3], [2, 6, 8, 3, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        theseus.train()
        theseus.replace_prob = 0.0  # every group its predecessor layers: the predecessor itself
        assert torch.allclose(theseus(ids, mask).logits, predecessor(input_ids=ids, attention_mask=mask).logits)
        theseus.eval()  # the successor modules alone: what the compressed classifier computes
        compact = theseus.successor_model().eval()
        assert compact.config.num_hidden_layers == 2
        assert torch.allclose(theseus(ids, mask).logits, compact(input_ids=ids, attention_mask=mask).logits, atol=1e-6)
    # "spread" copies the first layer of each group: layers 0 and 2
    assert torch.equal(theseus.successor[1].output.dense.weight, predecessor.bert.encoder.layer[2].output.dense.weight)
    theseus.train()
    theseus.replace_prob = 0.5
    optimizer = torch.optim.SGD([p for p in theseus.parameters() if p.requires_grad], lr=0.5)
    for _ in range(4):
        optimizer.zero_grad()
        theseus(ids, mask, labels=torch.tensor([0, 2])).loss.backward()
        optimizer.step()
    after = predecessor.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the predecessor is frozen
    assert not torch.equal(theseus.successor[0].output.dense.weight, before["bert.encoder.layer.0.output.dense.weight"])
    assert len(predecessor.bert.encoder.layer) == 4  # its own layers are back after every step


@needs_torch
def test_compress_writes_a_smaller_classifier_and_refuses_what_it_cannot_do(scratch, tmp_path):
    import torch

    from zhnlp.classification import Classifier
    from zhnlp.classification.theseus import compress
    from zhnlp.training import TrainerConfig

    from .test_title_models import _cli

    model_dir, _ = scratch
    summary = compress(model_dir / "m", model_dir / "task", tmp_path / "small", show_progress=False,
                       replacing_epochs=2, successor_epochs=1,
                       trainer_config=TrainerConfig(lr=1e-3, warmup_steps=2, metric="accuracy", device="cpu"))
    assert summary["predecessor_layers"] == 2 and summary["layers"] == 1 and summary["replacing_steps"] > 0
    small = Classifier.from_pretrained(tmp_path / "small", device="cpu")
    assert small.network.config.num_hidden_layers == 1 and small.labels == ["103", "104"]
    assert summary["best_dev_accuracy"] >= 0.8 and small("股票基金银行")["label"] == "104"
    again = compress(model_dir / "m", model_dir / "task", tmp_path / "small", show_progress=False,
                     trainer_config=TrainerConfig(lr=1e-3, warmup_steps=2, metric="accuracy", device="cpu"))
    assert again["steps"] == summary["steps"]  # both stages finished: resuming does nothing more
    from zhnlp.classification.theseus import first_layers

    direct = Classifier.from_pretrained(first_layers(model_dir / "m", 1, tmp_path / "first"), device="cpu")
    whole = Classifier.from_pretrained(model_dir / "m", device="cpu")
    assert direct.network.config.num_hidden_layers == 1 and direct.labels == whole.labels
    assert torch.equal(direct.network.bert.encoder.layer[0].output.dense.weight,
                       whole.network.bert.encoder.layer[0].output.dense.weight)
    failed = _cli("compress", model_dir / "m", "--data", model_dir / "task", "-o", tmp_path / "x", "--layers", "2")
    assert failed.exit_code == 1 and "fewer layers than the predecessor's 2" in failed.stderr
    from .conftest import random_couplet_folder

    random_couplet_folder(tmp_path / "couplet", ["[PAD]", "[UNK]", "天", "地"])
    wrong = _cli("compress", tmp_path / "couplet", "--data", model_dir / "task", "-o", tmp_path / "y")
    assert wrong.exit_code == 1 and "holds a couplet model, not a classifier model" in wrong.stderr
