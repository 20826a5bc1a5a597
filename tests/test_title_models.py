"""The title models (zhnlp/title): the light copying seq2seq in numpy and in PyTorch (the same
step), copying through extended ids, UniLM's seq2seq mask, its target-only loss and KV cache on tiny
random BERTs, the TitleGenerator API, and the commands with their bad inputs."""
from __future__ import annotations

import json

import pytest

from zhnlp.errors import InputError
from zhnlp.generation import GenerationConfig

from .conftest import needs_torch, optional_module, random_title_folder

torch = optional_module("torch")
CHARS = "基于深度学习的图像识别方法研究分析系统设计模型数据网络控制。，"
ARTICLES = ["基于深度学习的图像识别方法研究", "数据网络控制系统设计。模型分析", "图像"]


def _cli(*args, input=None):
    from typer.testing import CliRunner

    from zhnlp.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input)


# ---------------------------------------------------------------------------------- the light model
def test_unknown_source_characters_are_copied_through_extended_ids():
    from zhnlp.title.encoding import CharVocab, build_vocab

    vocab = CharVocab(build_vocab(["深度学习"]))
    ids, extended, oovs = vocab.encode_source("深度鲲鹏学习鲲", 4, 64)
    size = len(vocab)
    assert oovs == ["鲲", "鹏"] and ids[0] == extended[0] == 4  # the task token opens the source
    assert extended[3:5] == [size, size + 1] and ids[3] == ids[4] == 1  # [UNK] for the embedding
    target = vocab.encode_target("鲲鹏深度龘", oovs, 48)
    assert target[:2] == [size, size + 1] and target[-2] == 1 and target[-1] == 3  # 龘 is in neither: [UNK]
    assert vocab.decode(target, oovs) == "鲲鹏深度"


@needs_torch
@pytest.mark.parametrize("beams", [1, 3])
def test_the_numpy_runtime_computes_what_the_torch_module_computes(tmp_path, beams):
    from zhnlp.title.encoding import CharVocab
    from zhnlp.title.folder import PointerConfig, expected_shapes, load_weights, read_config, read_vocab
    from zhnlp.title.light import pointer_titles
    from zhnlp.title.pointer_model import PointerGenerator
    from zhnlp.title.pointer_numpy import NumpyPointerGenerator

    for options in ({}, {"self_terminating_epsilon": 0.05}):
        folder = random_title_folder(tmp_path / f"m{len(options)}", CHARS, **options)
        config = PointerConfig.from_dict(read_config(folder))
        weights = load_weights(folder, expected_shapes(config))
        vocab = CharVocab(read_vocab(folder, config.vocab_size))
        network = PointerGenerator(config)
        network.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        network.eval()
        articles = [*ARTICLES, "鲲鹏图像鲲"]  # unknown characters: extended ids in both
        generation = GenerationConfig(max_length=9, num_beams=beams, num_return=beams)
        in_numpy = pointer_titles(NumpyPointerGenerator(config, weights), vocab, articles, generation, 64)
        in_torch = pointer_titles(network, vocab, articles, generation, 64, device="cpu")
        for (a, cut_a), (b, cut_b) in zip(in_numpy, in_torch):
            assert [t for t, _ in a] == [t for t, _ in b] and cut_a == cut_b
            assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-4)


@needs_torch
def test_the_light_model_learns_to_copy_and_resumes(tmp_path):
    """Titles that are a run of the abstract: after a short training greedy decoding copies them."""
    import random

    from zhnlp.title import TitleGenerator
    from zhnlp.title.train import light_trainer_config, train_title

    rng = random.Random(0)
    lines = []
    for _ in range(240):
        words = rng.sample("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉", 12)
        abstract = "".join(words)
        lines.append(f"{abstract}\t{abstract[2:6]}")
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {"hidden_size": 64, "embedding_dim": 32, "max_source_length": 32, "max_target_length": 8}
    common = dict(config=config, batch_size=32, dev_fraction=0.1, show_progress=False)
    first = train_title(data, tmp_path / "m", trainer_config=light_trainer_config(max_steps=30, eval_every=30,
                                                                                  warmup_steps=10, lr=1e-2, ema_decay=0.0), **common)
    assert first["steps"] == 30
    again = train_title(data, tmp_path / "m", trainer_config=light_trainer_config(max_steps=260, eval_every=130,
                                                                                  warmup_steps=10, lr=1e-2, ema_decay=0.0), **common)
    assert again["steps"] == 260  # resumed: 230 more steps, the shape from the checkpoint
    with pytest.raises(InputError, match="--hidden-size 32"):
        train_title(data, tmp_path / "m", config={**config, "hidden_size": 32},
                    trainer_config=light_trainer_config(max_steps=300), show_progress=False)
    generator = TitleGenerator.from_pretrained(tmp_path / "m", device="cpu")
    held_out = ["午未申酉甲乙丙丁戊己庚辛", "子丑寅卯辰巳午未申酉甲乙"]
    titles = generator(held_out, num_beams=1)
    assert sum(t == a[2:6] for t, a in zip(titles, held_out)) >= 1, titles
    assert again["best_dev_rouge_l"] > 60


@needs_torch
def test_the_self_terminating_light_model_always_ends(tmp_path):
    from zhnlp.title import TitleGenerator
    from zhnlp.title.folder import EOS_ID

    folder = random_title_folder(tmp_path / "m", CHARS, self_terminating_epsilon=0.2)
    weights_path = folder / "model.safetensors"
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(weights_path))
    weights["output_bias"][EOS_ID] = -30.0  # left alone it would never choose the end token
    weights["keep.bias"][:] = 30.0  # and it never wants to stop
    save_file(weights, str(weights_path))
    for results in (TitleGenerator.from_pretrained(folder, device="cpu").generate(ARTICLES, num_beams=1, max_length=100),
                    TitleGenerator.from_pretrained(folder, device="cpu").generate(ARTICLES, do_sample=True, seed=0,
                                                                                   max_length=100)):
        assert all(not r.truncated for r in results)  # p(end) at step t >= 1 - 0.8^t: over 99.99% by step 40


# ---------------------------------------------------------------------------------- the API, no torch needed
def test_the_generator_takes_a_string_or_a_list_and_refuses_what_it_cannot_title(tmp_path):
    from zhnlp.title import TitleGenerator

    folder = random_title_folder(tmp_path / "m", CHARS)
    generator = TitleGenerator.from_pretrained(folder, device="cpu")
    assert generator.device == "cpu (numpy)"
    one = generator(ARTICLES[0], num_beams=1, max_length=8)  # (a random model: short, so that near-ties
    many = generator(ARTICLES, num_beams=1, max_length=8)  # of the batch's rounding cannot flip a choice)
    assert isinstance(one, str) and many[0] == one and len(many) == 3
    results = generator.generate(ARTICLES, num_beams=4, num_return=3, max_length=6)
    assert all(len(r.candidates) == 3 and r.candidates[0][0] == r.title for r in results)
    assert all(r.candidates[0][1] >= r.candidates[-1][1] for r in results)
    assert all(len(r.title) <= 6 for r in results)
    english = generator("no Chinese here at all")  # still answered
    assert isinstance(english, str)
    long = generator.generate("图" * 500)[0]
    assert long.source_truncated and not generator.generate("图像")[0].source_truncated
    with pytest.raises(InputError, match="empty article"):
        generator("   ")
    with pytest.raises(InputError, match="-n no larger than --beam"):
        generator.generate(ARTICLES, num_beams=2, num_return=3)


def test_a_missing_or_wrong_kind_model_folder_is_a_clear_error(tmp_path):
    from zhnlp.title import TitleGenerator

    from .conftest import random_couplet_folder

    with pytest.raises(InputError, match="title model not found"):
        TitleGenerator.from_pretrained(tmp_path / "nowhere")
    random_couplet_folder(tmp_path / "couplet", ["[PAD]", "[UNK]", "天", "地"])
    with pytest.raises(InputError, match="holds a couplet model, not a title model"):
        TitleGenerator.from_pretrained(tmp_path / "couplet")


def test_title_command_files_lines_json_and_bad_input(tmp_path):
    folder = random_title_folder(tmp_path / "m", CHARS)
    article = tmp_path / "article.txt"
    article.write_text("基于深度学习的\n图像识别方法研究\n", encoding="utf-8")  # the whole file is one article
    one = _cli("title", article, "--model", folder, "--device", "cpu")
    assert one.exit_code == 0, one.output
    assert len(one.stdout.splitlines()) == 1
    as_text = _cli("title", "基于深度学习的\n图像识别方法研究\n", "--model", folder)
    assert as_text.stdout == one.stdout
    assert _cli("title", "-", "--model", folder, input=article.read_text(encoding="utf-8")).stdout == one.stdout
    shown = _cli("title", article, "--model", folder, "-n", "2", "--beam", "3", "--json")
    record = json.loads(shown.stdout)
    assert set(record) == {"title", "candidates", "truncated"} and len(record["candidates"]) == 2
    lines = tmp_path / "lines.txt"
    lines.write_text("基于深度学习的图像\n\n数据网络控制\n图" * 1 + "\n", encoding="utf-8")
    batch = _cli("title", lines, "--lines", "--model", folder, "--json")
    out = batch.stdout.split("\n")[:-1]
    assert batch.exit_code == 0 and len(out) == 4 and out[1] == "" and all(json.loads(o) for o in out if o)
    target = tmp_path / "titles.txt"
    assert _cli("title", lines, "--lines", "--model", folder, "-o", target).exit_code == 0
    assert len(target.read_text(encoding="utf-8").split("\n")) == 5
    again = _cli("title", lines, "--lines", "--model", folder, "-o", target)
    assert again.exit_code == 1 and "--force" in again.stderr
    long = _cli("title", "图" * 400, "--model", folder)
    assert long.exit_code == 0 and "longer than the model reads" in long.stderr
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("基于深度学习的图像识别".encode("gbk"))
    bad = _cli("title", gbk, "--model", folder)
    assert bad.exit_code == 1 and "gb18030" in bad.stderr and "Traceback" not in bad.output
    assert _cli("title", gbk, "--model", folder, "--encoding", "gbk").exit_code == 0
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02" * 50)
    assert _cli("title", binary, "--model", folder).exit_code == 1
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    nothing = _cli("title", empty, "--model", folder)
    assert nothing.exit_code == 1 and "is empty" in nothing.stderr
    quiet = _cli("title", "-", "--lines", "--model", folder, input="")  # a filter: nothing in, nothing out
    assert quiet.exit_code == 0 and quiet.stdout == ""
    blank = _cli("title", "-", "--model", folder, input="\n\n")
    assert blank.exit_code == 1 and "empty article" in blank.stderr
    missing = _cli("title", "article.txt", "--model", folder)
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    assert _cli("title", "data/abstracts", "--model", folder).exit_code == 1  # a path, not an article
    assert _cli("title", "基于TCP/IP的网络控制", "--model", folder).exit_code == 0  # an article with a slash
    wrong = _cli("title", article, "--model", tmp_path / "nowhere")
    assert wrong.exit_code == 1 and "Traceback" not in wrong.output


# ---------------------------------------------------------------------------------- UniLM on tiny BERTs
def _tiny_bert(tmp_path, seed: int = 0):
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(CHARS)])
                                      + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"))
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=128)
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@needs_torch
def test_unilm_runs_the_bert_as_transformers_does_under_the_seq2seq_mask(tmp_path):
    from zhnlp.title.unilm import UniLM

    unilm = UniLM.from_bert(_tiny_bert(tmp_path)).eval()
    ids, types, labels = unilm.training_example("基于深度学习", "图像识别")
    tokens = unilm.tokenizer.convert_ids_to_tokens(ids)
    assert tokens == ["[CLS]", *"基于深度学习", "[SEP]", *"图像识别", "[SEP]"]
    assert types == [0] * 8 + [1] * 5  # source segment 0, target 1
    assert labels == [-100] * 7 + ids[8:] + [-100]  # loss only on target tokens, each predicted from before
    input_ids, token_types = torch.tensor([ids]), torch.tensor([types])
    positions = torch.arange(len(ids))[None]
    everything = torch.ones(1, len(ids), len(ids), dtype=torch.bool)
    with torch.no_grad():
        ours = unilm.masked_lm.cls(unilm.run(input_ids, token_types, positions, everything)[0])
        theirs = unilm.masked_lm(input_ids=input_ids, token_type_ids=token_types).logits
    assert torch.allclose(ours, theirs, atol=1e-5)
    visible = UniLM.seq2seq_visible(token_types, input_ids != 0)[0]
    assert visible[:8, :8].all() and not visible[:8, 8:].any()  # source sees source only
    assert visible[8:, :8].all() and torch.equal(visible[8:, 8:], torch.tril(torch.ones(5, 5, dtype=torch.bool)))
    # the mask in action: changing a later target token changes nothing before it, nor the source
    changed = input_ids.clone()
    changed[0, 11] = unilm.tokenizer.convert_tokens_to_ids("模")
    with torch.no_grad():
        a, _ = unilm.run(input_ids, token_types, positions, UniLM.seq2seq_visible(token_types, input_ids != 0))
        b, _ = unilm.run(changed, token_types, positions, UniLM.seq2seq_visible(token_types, changed != 0))
    assert torch.allclose(a[0, :11], b[0, :11], atol=1e-6) and not torch.allclose(a[0, 11:], b[0, 11:])
    loss, counted = unilm(input_ids, token_types, torch.tensor([labels]))
    assert int(counted) == 5 and torch.isfinite(loss)
    long = unilm.source_ids("基于" + "图" * 500)  # the source cut to what the positions leave the title (128 - 48)
    assert len(long) == 80 and unilm.tokenizer.convert_ids_to_tokens(long[:3]) == ["[CLS]", "基", "于"]


@needs_torch
@pytest.mark.parametrize("config", [GenerationConfig(max_length=7, min_length=7),
                                    GenerationConfig(max_length=7, min_length=7, num_beams=3, num_return=2)])
def test_unilm_cached_and_uncached_decoding_agree(tmp_path, config):
    from zhnlp.generation import generate
    from zhnlp.title.unilm import UniLM

    unilm = UniLM.from_bert(_tiny_bert(tmp_path)).eval()
    prefix, state = unilm.start(["基于深度学习的图像", "数据", "控制系统设计模型分析"])  # right-padded sources
    cached = generate(unilm.step, prefix, unilm.sep_id, config, dict(state))
    fresh = generate(unilm.step_uncached, prefix, unilm.sep_id, config, dict(state))
    for a, b in zip(cached, fresh):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)
    alone, alone_state = unilm.start(["数据"])  # padding in a batch changes nothing
    [[single]] = generate(unilm.step, alone, unilm.sep_id, GenerationConfig(max_length=7, min_length=7), alone_state)
    if config.num_beams == 1:
        assert single.tokens == cached[1][0].tokens and single.score == pytest.approx(cached[1][0].score, abs=1e-5)
    banned = set(unilm.banned)
    assert not any(set(h.tokens) & banned for found in cached for h in found)


@needs_torch
def test_unilm_trains_saves_and_titles_through_the_same_api(tmp_path):
    from zhnlp.title import TitleGenerator
    from zhnlp.title.train import train_title
    from zhnlp.training import TrainerConfig

    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{a}{a}\t{a}\n" for a in ["基于深度学习", "图像识别方法", "数据网络控制", "系统设计模型"] * 5),
                    encoding="utf-8")
    summary = train_title(data, tmp_path / "u", model=str(_tiny_bert(tmp_path)), batch_size=4, show_progress=False,
                          trainer_config=TrainerConfig(max_steps=8, lr=1e-3, warmup_steps=1, eval_every=4,
                                                       metric="rouge-l", adversarial="fgm"))
    assert summary["steps"] == 8 and summary["dev_pairs"] == 4
    assert (tmp_path / "u" / "bert" / "config.json").is_file()
    generator = TitleGenerator.from_pretrained(tmp_path / "u", device="cpu")
    assert generator.kind == "unilm"
    results = generator.generate(["基于深度学习", "数据网络控制"], num_beams=2, max_length=5)
    assert all(len(r.title) <= 5 and not (r.title and "[" in r.title) for r in results)
    result = _cli("evaluate", "title", "--data", data, "--model", tmp_path / "u", "--json", "--device", "cpu")
    scores = json.loads(result.stdout)
    assert set(scores["model"]) == {"rouge-1", "rouge-2", "rouge-l", "bleu"} and scores["n"] == 20


@needs_torch
def test_train_title_command_names_a_malformed_line(tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text("摘要一\t标题一\n只有一列\n", encoding="utf-8")
    result = _cli("train", "title", "--data", data, "-o", tmp_path / "m")
    assert result.exit_code == 1 and "line 2" in result.stderr and "Traceback" not in result.output


@needs_torch
def test_unilm_on_a_wobert_folder_uses_the_wobert_tokenizer_and_maps_words_back(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    from zhnlp.title.unilm import UniLM
    from zhnlp.wobert import WoBertTokenizer
    from zhnlp.wobert.model import save_wobert

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(CHARS), "深度", "图像"])
                     + "\n", encoding="utf-8")
    tokenizer = WoBertTokenizer(vocab)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=128)
    save_wobert(BertForMaskedLM(config), tokenizer, tmp_path / "wobert")
    unilm = UniLM.from_bert(tmp_path / "wobert").eval()
    assert isinstance(unilm.tokenizer, WoBertTokenizer)
    ids, types, _ = unilm.training_example("基于深度学习", "图像识别")
    tokens = unilm.tokenizer.convert_ids_to_tokens(ids)
    assert "深度" in tokens and len(tokens) < len("基于深度学习图像识别") + 3  # a word is one token
    assert unilm.decode(ids[types.index(1):]) == "图像识别"  # the target decodes back to its characters


def test_the_shipped_model_titles_an_abstract_out_of_the_box():
    from zhnlp.title import TitleGenerator

    generator = TitleGenerator.from_pretrained()  # data/models/title, no flags
    assert generator.kind == "pointer" and generator.device == "cpu (numpy)"
    abstract = ("针对传统图像识别方法精度不高的问题,提出了一种基于卷积神经网络的图像识别方法.实验结果表明,该方法"
                "在公开数据集上的识别精度明显优于传统方法.")
    result = generator.generate(abstract)[0]
    assert result.title and not result.truncated and len(result.title) <= generator.max_target_length
    assert sum(ch in abstract for ch in result.title) >= 0.8 * len(result.title)  # written from the abstract's words


@pytest.mark.skipif(optional_module("torch") is not None, reason="checks the core install, without torch")
def test_training_commands_without_torch_say_how_to_install_it(tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text("摘要一\t标题一\n", encoding="utf-8")
    for args in (("train", "title", "--data", data, "-o", tmp_path / "t"),
                 ("train", "triples", "--data", tmp_path, "-o", tmp_path / "x"),
                 ("train", "classifier", "--data", data, "-o", tmp_path / "c"), ("classify", "文本", "--model", tmp_path)):
        result = _cli(*args)
        assert result.exit_code == 1 and 'pip install "zhnlp[torch]"' in result.stderr, result.output
