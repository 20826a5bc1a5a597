"""WoBERT: tokenizer identity with the reference path, offsets, folders, vocabulary, init, MLM.

Tiny vocabularies and tiny BERT configs are made here; nothing is downloaded.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata

import pytest

from zhnlp.errors import InputError
from zhnlp.wobert import WoBertTokenizer, build_vocab, read_vocab, simplify_base_vocab
from zhnlp.wobert.reference import ReferenceWoBertTokenizer

from .conftest import SHARED_DATA, needs_torch, optional_module, requires_data

# the reference tokenizer needs transformers, the models torch: the tests that use them carry @needs_torch
transformers = optional_module("transformers")
torch = optional_module("torch")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHARS = list("今天气不错我们去北京清华大学玩的是在有人他说你好世界，。！？：“”、（）")
WORDS = ["今天", "天气", "不错", "我们", "北京", "清华大学", "大学", "世界", "你好", "他说"]
LATIN = ["hello", "world", "iphone", "##12", "1", "2", "3", "##3", "##5", "a", "b", "c", "##b", "##c", "cafe", ",", ".",
         "!", "+", "#", "%", "-", "_", "12", "##llo", "he", "ｆ", "##ｕ", "##ｌ"]
# id 7 is an empty line, as id 242 of the published WoBERT vocabulary
TINY_VOCAB = SPECIALS[:2] + ["[unused1]", "[unused2]"] + SPECIALS[2:] + ["", "\u2028"] + CHARS + LATIN + WORDS

TRICKY = ["", " ", "今天天气不错，我们去北京清华大学玩。", "Hello WORLD! 你好，世界。", "ｆｕｌｌ　ｗｉｄｔｈ１２３",
          "😀表情😂包", "café İstanbul naïve", "iPhone12 Pro 价格5999元", "a\tb\nc\r\nd", "\u2028\u3000 x",
          "[CLS] [SEP] [MASK]", "3.14159 100% c++ c# .net", "ΣΑΣ σας", "\x00\x01控制", "ab" * 80,
          "他说：“你好！”", "龘䶮𠀀〇"]


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer(vocab_file):
    return WoBertTokenizer(vocab_file)


def tokenizer_vocab(tokenizer) -> str:
    """A vocab.txt of the tokenizer's tokens (for the reference path)."""
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(tokenizer.ids_to_tokens) + "\n")
    return path


def _plain(text: str) -> str:
    """What BERT's normalizer makes of a span: lowercase, accents stripped."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def test_vocab_keeps_one_id_per_line_with_blank_and_line_separator_tokens(vocab_file):
    tokens = read_vocab(vocab_file)
    assert tokens == TINY_VOCAB
    assert tokens[7] == "" and tokens[8] == "\u2028"


@needs_torch
def test_ids_equal_the_reference_path_on_tricky_text(tokenizer, vocab_file):
    reference = ReferenceWoBertTokenizer(vocab_file)
    for text in TRICKY:
        assert tokenizer(text)["input_ids"] == reference.encode(text), text
        assert tokenizer.tokenize(text) == [t if t in reference.vocab else "[UNK]" for t in reference.tokenize(text)], text


def test_words_in_vocab_are_single_tokens_and_others_fall_back(tokenizer):
    assert tokenizer.tokenize("我们去北京清华大学") == ["我们", "去", "北京", "清华大学"]
    # jieba keeps 今天天气 whole; it is not in the vocabulary, so it falls back to characters
    assert tokenizer.tokenize("今天天气") == ["今", "天", "天", "气"]
    assert tokenizer.tokenize("Hello") == ["hello"]
    assert tokenizer.tokenize("Hebc") == ["he", "##b", "##c"]
    assert tokenizer.tokenize("😀") == ["[UNK]"]


def test_subwords_option_uses_the_fewest_vocabulary_words(vocab_file):
    subwords = WoBertTokenizer(vocab_file, oov="subwords")
    assert subwords.tokenize("今天天气") == ["今天", "天气"]
    assert subwords.tokenize("今天天气不错") == ["今天", "天气", "不错"]
    encoded = subwords("今天天气", return_offsets_mapping=True)
    assert encoded["offset_mapping"][1:3] == [(0, 2), (2, 4)]


def test_offsets_map_tokens_back_to_the_input(tokenizer):
    for text in TRICKY:
        encoded = tokenizer(text, return_offsets_mapping=True)
        tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
        spans = encoded["offset_mapping"]
        assert spans[0] == (0, 0) and spans[-1] == (0, 0)
        previous_end = 0
        for token, (start, end) in zip(tokens[1:-1], spans[1:-1]):
            assert previous_end <= start < end <= len(text), (text, token, start, end)
            previous_end = end
            if token in SPECIALS and token != "[UNK]":  # written in the text: itself
                assert text[start:end] == token
            elif token != "[UNK]":
                assert _plain(text[start:end]) == token.removeprefix("##"), (text, token, text[start:end])


def test_pairs_batches_truncation_and_padding(tokenizer):
    single = tokenizer("我们去北京", "你好世界")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert single["input_ids"][0] == cls and single["input_ids"].count(sep) == 2
    n_first = single["input_ids"].index(sep) + 1
    assert single["token_type_ids"] == [0] * n_first + [1] * (len(single["input_ids"]) - n_first)

    batch = tokenizer(["我们", "我们去北京清华大学玩"], padding=True)
    assert len(batch["input_ids"][0]) == len(batch["input_ids"][1])
    assert batch["attention_mask"][0] == [1, 1, 1] + [0] * (len(batch["input_ids"][0]) - 3)
    assert batch["input_ids"][0][3:] == [tokenizer.pad_token_id] * (len(batch["input_ids"][0]) - 3)

    cut = tokenizer("我们去北京清华大学玩", max_length=4, truncation=True)
    assert cut["input_ids"] == [cls, tokenizer.vocab["我们"], tokenizer.vocab["去"], sep]
    pair = tokenizer("我们去北京清华大学玩", "你好", max_length=6, truncation="longest_first")
    assert len(pair["input_ids"]) == 6 and pair["token_type_ids"].count(1) == 2
    only_second = tokenizer("我们", "你好世界你好世界", max_length=6, truncation="only_second")
    assert len(only_second["input_ids"]) == 6 and only_second["input_ids"][1] == tokenizer.vocab["我们"]
    fixed = tokenizer(["我们"], padding="max_length", max_length=8, return_tensors="np")
    assert fixed["input_ids"].shape == (1, 8)


def test_decode_joins_words_without_spaces_between_chinese(tokenizer):
    ids = tokenizer("我们去北京 hello world iphone12")["input_ids"]
    assert tokenizer.decode(ids) == "我们去北京hello world iphone12"
    assert tokenizer.decode(ids, skip_special_tokens=False).startswith("[CLS]")


@needs_torch
def test_feeds_a_transformers_bert_model(tokenizer):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    model = BertModel(config).eval()
    texts = ["我们去北京清华大学", "你好"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch).last_hidden_state  # (2, T, 16)
        for row, text in enumerate(texts):  # each text alone, unpadded, from the reference path's ids
            ids = ReferenceWoBertTokenizer(tokenizer_vocab(tokenizer)).encode(text)
            alone = model(input_ids=torch.tensor([ids])).last_hidden_state[0]  # (t, 16)
            assert torch.allclose(out[row, :len(ids)], alone, atol=1e-5)
            assert batch["attention_mask"][row].tolist() == [1] * len(ids) + [0] * (out.shape[1] - len(ids))


def test_save_and_load_round_trip(tmp_path, vocab_file):
    original = WoBertTokenizer(vocab_file, oov="subwords", segmenter_words=[("华清池", 1000)], model_max_length=64)
    original.save_pretrained(tmp_path / "tok")
    assert (tmp_path / "tok" / "vocab.txt").read_bytes() == vocab_file.read_bytes()
    loaded = WoBertTokenizer.from_pretrained(tmp_path / "tok")
    assert loaded.ids_to_tokens == original.ids_to_tokens
    assert (loaded.oov, loaded.model_max_length, loaded.segmenter_words) == ("subwords", 64, [("华清池", 1000.0)])
    for text in TRICKY + ["我们去华清池"]:
        assert loaded(text, return_offsets_mapping=True) == original(text, return_offsets_mapping=True)
    assert loaded.cut("我们去华清池")[-1] == "华清池"
    # a vocab.txt path works too, with the words file beside it
    assert WoBertTokenizer.from_pretrained(tmp_path / "tok" / "vocab.txt").segmenter_words == [("华清池", 1000.0)]


def test_build_vocab_adds_frequent_words_and_lexicon_words_reach_the_segmenter(tmp_path, vocab_file):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("我们喜欢氪金兽和铁憨憨。\n" * 30 + "他们研究天气。\n" * 10, encoding="utf-8")
    plain = build_vocab([corpus], words=3, base_vocab=vocab_file)
    assert plain.tokens[:plain.base_size] == simplify_base_vocab(TINY_VOCAB)
    assert "[unused1]" not in plain.tokens and "" in plain.tokens  # a blank line is a 0-length token: kept
    # simplifying dropped the base's multi-character Chinese tokens, so 我们 is counted again
    assert plain.words == [("喜欢", 30), ("我们", 30), ("他们", 10)]
    assert "氪金兽" not in plain.tokens  # jieba does not know it

    lexicon = tmp_path / "words.tsv"
    lexicon.write_text("氪金兽\t30\t5.0\n铁憨憨\t30\t5.0\n我们\t30\t1.0\n", encoding="utf-8")
    built = build_vocab([corpus], words=10, base_vocab=vocab_file, lexicon=lexicon)
    assert {"氪金兽", "铁憨憨"} <= set(built.tokens)
    assert {w for w, _ in built.segmenter_words} == {"氪金兽", "铁憨憨"}
    built.save(tmp_path / "out.txt")
    tok = WoBertTokenizer.from_pretrained(tmp_path / "out.txt")
    assert tok.tokenize("我们喜欢氪金兽") == ["我们", "喜欢", "氪金兽"]


def test_build_vocab_char_min_count_keeps_the_characters_seen_often_enough(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("天气很好。\n" * 3 + "罕\n", encoding="utf-8")
    every = build_vocab([corpus], words=0).tokens
    often = build_vocab([corpus], words=0, char_min_count=2).tokens
    assert "罕" in every and "罕" not in often
    assert [t for t in every if t != "罕"] == often  # the same tokens otherwise, in the same order
    with pytest.raises(InputError, match="no effect with --base-vocab"):
        build_vocab([corpus], words=0, base_vocab=corpus, char_min_count=2)


def _tiny_char_bert(tmp_path, vocab):
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    model = BertForMaskedLM(config)
    with torch.no_grad():
        model.cls.predictions.bias.copy_(torch.randn(len(vocab)))
    folder = tmp_path / "char_bert"
    model.save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return model, folder


@needs_torch
def test_init_from_char_bert_uses_the_mean_of_the_characters(tmp_path):
    from zhnlp.wobert.model import init_from_char_bert, load_wobert

    char_vocab = SPECIALS + CHARS
    char_model, char_dir = _tiny_char_bert(tmp_path, char_vocab)
    word_vocab = tmp_path / "vocab.txt"
    word_vocab.write_text("\n".join(SPECIALS + CHARS + WORDS + ["😀"]) + "\n", encoding="utf-8")
    stats = init_from_char_bert(char_dir, word_vocab, tmp_path / "wobert")
    assert stats["kept"] == len(SPECIALS + CHARS) and stats["averaged"] == len(WORDS) and stats["unk_rows"] == 1

    model, tok = load_wobert(tmp_path / "wobert")
    old_rows = char_model.get_input_embeddings().weight.detach()
    new_rows = model.get_input_embeddings().weight.detach()
    old_bias, new_bias = char_model.cls.predictions.bias.detach(), model.cls.predictions.bias.detach()
    old_id = {t: i for i, t in enumerate(char_vocab)}
    for char in ["今", "[CLS]"]:
        assert torch.equal(new_rows[tok.vocab[char]], old_rows[old_id[char]])
    word_ids = [old_id[c] for c in "清华大学"]
    assert torch.allclose(new_rows[tok.vocab["清华大学"]], old_rows[word_ids].mean(0))
    assert torch.allclose(new_bias[tok.vocab["清华大学"]], old_bias[word_ids].mean())
    assert torch.equal(new_rows[tok.vocab["😀"]], old_rows[old_id["[UNK]"]])
    # every other weight is the char model's
    assert torch.equal(model.bert.encoder.layer[0].output.dense.weight, char_model.bert.encoder.layer[0].output.dense.weight)
    # the output layer stays tied to the embeddings
    assert model.cls.predictions.decoder.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


@needs_torch
def test_loads_a_port_folder_with_pytorch_model_bin(tmp_path):
    from zhnlp.wobert.model import load_wobert

    model, folder = _tiny_char_bert(tmp_path, SPECIALS + CHARS)
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    loaded, tok = load_wobert(folder)
    assert torch.equal(loaded.get_input_embeddings().weight, model.get_input_embeddings().weight)
    assert tok.tokenize("今天") == ["今", "天"]


@needs_torch
def test_missing_model_says_what_to_download(tmp_path, monkeypatch):
    from zhnlp.hub import ModelNotFoundError
    from zhnlp.wobert.model import load_wobert

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFoundError) as info:
        load_wobert("junnyu/wobert_chinese_plus_base")
    assert "download junnyu/wobert_chinese_plus_base" in info.value.hint
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="lacks config.json"):
        load_wobert(tmp_path / "empty")


@needs_torch
def test_hub_id_resolves_from_the_local_cache_offline(tmp_path):
    """A hub id already in the HF cache loads with HF_HUB_OFFLINE=1 (the cache layout written by hand)."""
    model, folder = _tiny_char_bert(tmp_path, SPECIALS + CHARS)
    repo = tmp_path / "hub" / "models--someone--tiny-wobert"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "vocab.txt"):
        (snapshot / name).write_bytes((folder / name).read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    # huggingface_hub reads its settings at import, so the loading runs in a fresh process
    code = ("import torch; from zhnlp.wobert.model import load_wobert; m, t = load_wobert('someone/tiny-wobert'); "
            f"assert torch.equal(m.get_input_embeddings().weight, torch.load({str(tmp_path / 'emb.pt')!r})); "
            "assert len(t) == m.config.vocab_size")
    torch.save(model.get_input_embeddings().weight.detach(), tmp_path / "emb.pt")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


TOY_SUBJECTS, TOY_VERBS, TOY_OBJECTS = ["我们", "他们", "老师", "学生"], ["喜欢", "学习", "研究"], ["数学", "历史", "音乐", "物理"]


def _toy_corpus(path, n=1200):
    import random

    rng = random.Random(0)
    path.write_text("".join(rng.choice(TOY_SUBJECTS) + rng.choice(TOY_VERBS) + rng.choice(TOY_OBJECTS) + "。\n"
                            for _ in range(n)), encoding="utf-8")
    return path


def _pretrain(corpus, vocab, out, steps, **overrides):
    from zhnlp.training import TrainerConfig
    from zhnlp.wobert.pretrain import PretrainConfig, pretrain

    config = PretrainConfig(seq_len=24, batch_size=8, heldout_every=10, eval_lines=60)
    trainer = TrainerConfig(max_steps=steps, lr=3e-3, warmup_steps=3, save_every=10, **overrides)
    return pretrain([corpus], out, size="tiny", vocab=vocab, config=config, trainer_config=trainer,
                    show_progress=False)


def test_whole_word_masking_masks_every_token_of_a_chosen_word():
    import numpy as np

    from zhnlp.wobert.pretrain import IGNORE_INDEX, mask_whole_words

    ids = np.arange(100, 140)
    word_ids = np.repeat(np.arange(10), 4)  # ten words of four tokens
    word_ids[0] = word_ids[-1] = -1
    inputs, labels = mask_whole_words(ids, word_ids, np.random.default_rng(0), 0.15, 5, 200, 10)
    chosen = labels != IGNORE_INDEX
    assert 4 <= chosen.sum() <= 10 and not chosen[0] and not chosen[-1]
    for word in np.unique(word_ids[chosen]):
        assert chosen[word_ids == word].all()
    assert (labels[chosen] == ids[chosen]).all()


@needs_torch
def test_mlm_loss_falls_and_training_resumes_exactly(tmp_path, monkeypatch):
    from zhnlp.wobert.pretrain import PretrainConfig, evaluate_mlm

    corpus = _toy_corpus(tmp_path / "toy.txt")
    vocab = tmp_path / "vocab.txt"
    build_vocab([corpus], words=20, base_vocab=None).save(vocab)
    straight = _pretrain(corpus, vocab, tmp_path / "straight", 40)
    eval_config = PretrainConfig(seq_len=24, batch_size=8, heldout_every=10, eval_lines=60)
    trained = evaluate_mlm(tmp_path / "straight", [corpus], eval_config, device="cpu")
    assert trained["mlm_loss"] == pytest.approx(straight["heldout"]["mlm_loss"])

    untrained = _pretrain(corpus, vocab, tmp_path / "untrained", 1)
    assert straight["heldout"]["mlm_loss"] < 0.6 * untrained["heldout"]["mlm_loss"]

    # a Ctrl-C after 20 steps saves a checkpoint; the same command then finishes the run
    from zhnlp.wobert.pretrain import MaskedLmBatches

    original_iter = MaskedLmBatches.__iter__

    def interrupted_iter(self):
        for count, batch in enumerate(original_iter(self)):
            if count == 20 and not self.heldout:
                raise KeyboardInterrupt
            yield batch

    monkeypatch.setattr(MaskedLmBatches, "__iter__", interrupted_iter)
    with pytest.raises(KeyboardInterrupt):
        _pretrain(corpus, vocab, tmp_path / "resumed", 40)
    state = json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 20
    monkeypatch.undo()
    second = _pretrain(corpus, vocab, tmp_path / "resumed", 40)
    assert second["resumed_from"] == 20 and second["steps"] == 40
    assert second["heldout"]["mlm_loss"] == pytest.approx(straight["heldout"]["mlm_loss"], rel=1e-4)


@needs_torch
def test_pretrain_refuses_a_folder_it_did_not_make(tmp_path):
    from zhnlp.errors import OutputError

    corpus = _toy_corpus(tmp_path / "toy.txt", 50)
    vocab = tmp_path / "vocab.txt"
    build_vocab([corpus], words=5).save(vocab)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        _pretrain(corpus, vocab, tmp_path / "busy", 2)


# ------------------------------------------------------------------ CLI
def _cli(*args):
    from typer.testing import CliRunner

    from zhnlp.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_tokenize_cli_json_has_tokens_ids_and_offsets_with_cls_and_sep(vocab_file, tmp_path):
    result = _cli("tokenize", "我们去北京", "--vocab", vocab_file, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tokens"] == ["[CLS]", "我们", "去", "北京", "[SEP]"]
    assert data["offsets"] == [[0, 0], [0, 2], [2, 3], [3, 5], [0, 0]]
    assert data["input_ids"][0] == TINY_VOCAB.index("[CLS]")
    lines = tmp_path / "lines.txt"
    lines.write_text("你好\n\n世界\n", encoding="utf-8")
    result = _cli("tokenize", lines, "--vocab", vocab_file)
    assert result.stdout.splitlines()[0].split("\t")[0] == "[CLS] 你好 [SEP]"
    assert len(result.stdout.splitlines()) == 3
    written = tmp_path / "tokens.tsv"
    assert _cli("tokenize", lines, "--vocab", vocab_file, "-o", written).stdout == ""
    assert written.read_text(encoding="utf-8") == result.stdout
    refused = _cli("tokenize", lines, "--vocab", vocab_file, "-o", written)
    assert refused.exit_code == 1 and "--force" in refused.stderr


def test_tokenize_cli_errors_are_one_line_and_exit_1(vocab_file, tmp_path):
    result = _cli("tokenize", "你好")
    assert result.exit_code == 1 and "--vocab" in result.stderr
    result = _cli("tokenize", "你好", "--model", tmp_path / "nothing-here")
    assert result.exit_code == 1 and "not found" in result.stderr and "Traceback" not in result.output
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("你好世界\n".encode("gbk"))
    result = _cli("tokenize", gbk, "--vocab", vocab_file)
    assert result.exit_code == 1 and "gb18030" in result.stderr


def test_tokenize_cli_never_imports_torch(vocab_file):
    code = ("import sys; from zhnlp.cli.main import app; from typer.testing import CliRunner; "
            f"r = CliRunner().invoke(app, ['tokenize', '你好', '--vocab', {str(vocab_file)!r}]); "
            "assert r.exit_code == 0, r.output; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_torch
def test_wobert_cli_build_init_pretrain_evaluate(tmp_path):
    corpus = _toy_corpus(tmp_path / "toy.txt", 300)
    char_vocab = list(dict.fromkeys(SPECIALS + CHARS + list("他老师生喜欢习研究数历史音乐物理")))
    char_model, char_dir = _tiny_char_bert(tmp_path, char_vocab)
    result = _cli("wobert", "build-vocab", corpus, "--base-vocab", char_dir / "vocab.txt", "--words", 8,
                  "-o", tmp_path / "vocab.txt", "-q")
    assert result.exit_code == 0, result.output
    built = read_vocab(tmp_path / "vocab.txt")
    assert built[:len(char_vocab)] == char_vocab and len(built) == len(char_vocab) + 8
    assert all(len(word) > 1 for word in built[len(char_vocab):])
    result = _cli("wobert", "build-vocab", corpus, "-o", tmp_path / "vocab.txt", "-q")
    assert result.exit_code == 1 and "--force" in result.stderr
    result = _cli("wobert", "init", "--from", char_dir, "--vocab", tmp_path / "vocab.txt", "-o", tmp_path / "init")
    assert result.exit_code == 0, result.output
    result = _cli("wobert", "pretrain", corpus, "--model", tmp_path / "init", "-o", tmp_path / "pre", "--max-steps", 8,
                  "--batch-size", 4, "--seq-len", 16, "--heldout-every", 10, "--eval-lines", 20, "--device", "cpu",
                  "--json", "-q", "--seed", 3, "--lr", 5e-3, "--warmup-steps", 1)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] == 8 and 0 <= summary["heldout"]["mlm_accuracy"] <= 1
    # with no options, evaluate scores the lines and masks pretrain scored (its seed and settings are recorded)
    result = _cli("wobert", "evaluate", corpus, "--model", tmp_path / "pre", "--device", "cpu", "--json")
    scores = json.loads(result.stdout)
    assert scores["masked_tokens"] == summary["heldout"]["masked_tokens"]
    assert scores["mlm_accuracy"] == pytest.approx(summary["heldout"]["mlm_accuracy"], abs=1e-9)
    assert scores["mlm_loss"] == pytest.approx(summary["heldout"]["mlm_loss"], rel=1e-5)
    both = _cli("wobert", "pretrain", corpus, "--model", tmp_path / "init", "--config", "tiny", "-o", tmp_path / "x")
    assert both.exit_code == 1 and "were both given" in both.stderr
    missing = _cli("wobert", "init", "--from", tmp_path / "nosuch", "--vocab", tmp_path / "vocab.txt", "-o", tmp_path / "y")
    assert missing.exit_code == 1 and "char-level BERT" in missing.stderr and "wobert_chinese" not in missing.stderr


# ------------------------------------------------------------------ the published vocabularies
PUBLISHED = ["wobert_chinese_base", "wobert_chinese_plus_base"]


@requires_data
def test_simplified_char_vocab_is_the_published_wobert_base(tmp_path):
    published = read_vocab(SHARED_DATA / "wobert" / "wobert_chinese_base" / "vocab.txt")
    simplified = simplify_base_vocab(read_vocab(SHARED_DATA / "wobert" / "bert_chinese_char" / "vocab.txt"))
    # the published file lost its U+2028 line (now blank at id 242) and keeps '##§', which this
    # Python's Unicode data counts as punctuation; everything else is identical, in order
    assert [t for t in simplified if t not in ("\u2028", "##\u2028")] == \
        [t for t in published[:13586] if t not in ("", "##§", "##")]


@needs_torch
@requires_data
@pytest.mark.parametrize("name", PUBLISHED)
def test_identical_ids_to_the_reference_on_every_line_of_the_novels_and_tnews(name):
    vocab = SHARED_DATA / "wobert" / name / "vocab.txt"
    fast, reference = WoBertTokenizer(vocab), ReferenceWoBertTokenizer(vocab)
    lines = (SHARED_DATA / "corpus" / "sidamingzhu.txt").read_text(encoding="utf-8").split("\n")
    with open(SHARED_DATA / "classification" / "tnews" / "train.json", encoding="utf-8") as f:
        lines += [json.loads(line)["sentence"] for line in f]
    ours = fast(lines)["input_ids"]
    mismatches = [line for line, ids in zip(lines, ours) if ids != reference.encode(line)]
    assert not mismatches, mismatches[:3]


def test_special_tokens_in_the_text_stay_whole_and_map_back(tokenizer):
    encoded = tokenizer("今天[MASK]很好[SEP]", return_offsets_mapping=True, return_word_ids=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens[1:3] == ["今天", "[MASK]"] and tokens.count("[SEP]") == 2
    assert encoded["offset_mapping"][2] == (2, 8) and encoded["offset_mapping"][-2] == (10, 15)
    words = encoded["word_ids"]
    assert words[1] != words[2] != words[3] and words[1:-1] == sorted(words[1:-1])
    assert tokenizer.tokenize("[mask]") != ["[MASK]"]  # written otherwise, it is text


def test_accents_are_stripped_before_jieba_and_private_use_is_unk_as_bert4keras(tokenizer):
    assert tokenizer.tokenize("café") == ["cafe"]  # jieba would cut 'caf' 'é' before stripping
    assert tokenizer.tokenize("CAFÉ") == ["cafe"]
    assert tokenizer("\ue000天")["input_ids"][1:-1] == [tokenizer.unk_token_id, tokenizer.vocab["天"]]
    encoded = tokenizer("Ｃafé天", return_offsets_mapping=True)
    assert encoded["offset_mapping"][-2] == (4, 5)  # spans stay in the input's characters


@needs_torch
def test_autotokenizer_loads_a_saved_folder_and_behaves_as_hugging_face(tmp_path, tokenizer):
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, DataCollatorWithPadding

    import zhnlp.wobert.hf  # noqa: F401  registers WoBertTokenizerFast with AutoTokenizer

    tokenizer.save_pretrained(tmp_path / "tok")
    hf = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    assert type(hf).__name__ == "WoBertTokenizerFast"
    for text in TRICKY + ["今天[MASK]很好", "café", "\ue000天"]:
        assert hf(text)["input_ids"] == tokenizer(text)["input_ids"], text
    assert (hf.mask_token, hf.cls_token, hf.pad_token_id) == ("[MASK]", "[CLS]", tokenizer.pad_token_id)
    assert set(hf.all_special_tokens) >= {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"}
    assert hf.get_vocab()["清华大学"] == tokenizer.vocab["清华大学"] and len(hf) == len(tokenizer)
    batch = hf(["我们去北京清华大学", "你好"], padding=True, return_special_tokens_mask=True, return_length=True)
    assert batch["length"] == [len(r) for r in batch["input_ids"]]
    assert batch["special_tokens_mask"][1] == [1, 0, 1] + [1] * (len(batch["input_ids"][1]) - 3)
    assert batch.word_ids(0)[0] is None and batch.word_ids(0)[1] == 0
    hf.padding_side, hf.truncation_side = "left", "left"
    left = hf(["我们去北京清华大学", "你好"], padding=True, truncation=True, max_length=4)
    core = WoBertTokenizer(tmp_path / "tok" / "vocab.txt", padding_side="left", truncation_side="left")
    assert left["input_ids"] == core(["我们去北京清华大学", "你好"], padding=True, truncation=True, max_length=4)["input_ids"]
    assert left["input_ids"][1][0] == hf.pad_token_id and left["attention_mask"][1][0] == 0
    assert left["input_ids"][0][-1] == hf.sep_token_id and left["input_ids"][0][-2] == tokenizer.vocab["清华大学"]
    split = hf(["北京", "清华大学"], is_split_into_words=True)
    assert split["input_ids"] == tokenizer("北京清华大学")["input_ids"] and split.word_ids()[1:3] == [0, 1]
    features = [hf(t) for t in ("我们去北京", "你好", "今天天气不错")]
    padded = DataCollatorWithPadding(hf)(features)
    assert padded["input_ids"].shape[0] == 3 and padded["attention_mask"][1].tolist()[-3:] == [1, 1, 1]
    masked = DataCollatorForLanguageModeling(hf, mlm_probability=0.5, seed=0)([hf("今天天气不错，我们去北京清华大学玩")] * 4)
    chosen = masked["labels"] != -100
    assert bool(chosen.any()) and not bool(chosen[:, 0].any())  # never [CLS]
    assert hf.decode(hf("我们去北京")["input_ids"], skip_special_tokens=True) == "我们去北京"


def test_padding_and_truncation_sides_as_hugging_face(vocab_file):
    tok = WoBertTokenizer(vocab_file, padding_side="left", truncation_side="left")
    batch = tok(["我们去北京清华大学", "你好"], padding=True, truncation=True, max_length=4)
    assert batch["input_ids"][1][0] == tok.pad_token_id and batch["attention_mask"][1] == [0, 1, 1, 1]
    assert batch["input_ids"][0][1:-1] == [tok.vocab["北京"], tok.vocab["清华大学"]]  # the start cut off
    right = WoBertTokenizer(vocab_file)(["我们去北京清华大学", "你好"], padding=True, truncation=True, max_length=4)
    assert right["input_ids"][0][1:-1] == [tok.vocab["我们"], tok.vocab["去"]] and right["attention_mask"][1][-1] == 0
    with pytest.raises(InputError, match="padding_side"):
        WoBertTokenizer(vocab_file, padding_side="middle")


@needs_torch
def test_masked_lm_batches_come_from_the_shared_batcher_and_resume_mid_pool(tmp_path):
    from zhnlp.wobert.pretrain import MaskedLmBatches, PretrainConfig

    corpus = _toy_corpus(tmp_path / "toy.txt", 400)
    vocab = tmp_path / "vocab.txt"
    build_vocab([corpus], words=20, base_vocab=None).save(vocab)
    tok = WoBertTokenizer.from_pretrained(vocab)
    config = PretrainConfig(seq_len=16, batch_size=4, heldout_every=10)
    MaskedLmBatches.POOL_BATCHES, pool = 3, MaskedLmBatches.POOL_BATCHES
    try:
        batches = MaskedLmBatches([corpus], tok, config, seed=5)
        epoch = [b["input_ids"].tolist() for b in batches]
        again = MaskedLmBatches([corpus], tok, config, seed=5)
        iterator = iter(again)
        for _ in range(4):  # into the second pool of 3 batches
            next(iterator)
        state = again.state_dict()
        assert state["position"] == 1 and state["next_line"] > 0
        resumed = MaskedLmBatches([corpus], tok, config, seed=5)
        resumed.load_state_dict(state)
        assert [b["input_ids"].tolist() for b in resumed] == epoch[4:]
        heldout = MaskedLmBatches([corpus], tok, config, seed=1, heldout=True)
        first, second = ([b["input_ids"].tolist() for b in heldout] for _ in range(2))
        assert first == second and first  # every evaluation scores the same lines and masks
    finally:
        MaskedLmBatches.POOL_BATCHES = pool
