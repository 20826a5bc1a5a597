"""Couplets: the constrained decoder's rules, a tiny model that learns a mapping, folders, resume, FGM, CLI."""
from __future__ import annotations

import json
import os
import random
import signal

import numpy as np
import pytest

from zhnlp.couplet import CoupletConfig, constrained_decode, rule_violations
from zhnlp.couplet.decode import plain_decode
from zhnlp.errors import Interrupted

from .conftest import SHARED_DATA, needs_torch, optional_module, random_couplet_folder, requires_data

torch = optional_module("torch")  # the tests that use it carry @needs_torch
if torch is not None:
    from zhnlp.couplet import CoupletModel

VOCAB = ["[PAD]", "[UNK]", "，", "。", *"天地山水风云日月春秋花鸟红绿"]
INDEX = {c: i for i, c in enumerate(VOCAB)}
BANNED = np.array([0, 1, 2, 3])


def _random_scores(length: int, seed: int = 0) -> np.ndarray:
    return np.log(np.random.default_rng(seed).dirichlet(np.ones(len(VOCAB)), size=length))  # (T, V)


@pytest.mark.parametrize("upper", ["天", "天地", "天天", "天地天地", "山水，山水。", "风云日月春秋花鸟", "天，天地，地"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constrained_decoder_obeys_every_rule(upper, seed):
    ids = [INDEX[c] for c in upper]
    scores = _random_scores(len(upper), seed)
    candidates = constrained_decode(upper, ids, scores, VOCAB, BANNED, n=5)
    assert candidates and len({text for text, _ in candidates}) == len(candidates)
    assert [s for _, s in candidates] == sorted((s for _, s in candidates), reverse=True)
    for lower, _ in candidates:
        assert rule_violations(upper, lower) == [], (upper, lower)
        assert all(lower[i] == c for i, c in enumerate(upper) if c in "，。")


def test_constrained_best_is_the_best_rule_abiding_line():
    """On a short line the beam is exact: compare with brute force over all assignments."""
    import itertools

    upper = "天地天"
    ids = [INDEX[c] for c in upper]
    scores = _random_scores(3, 7)
    best = constrained_decode(upper, ids, scores, VOCAB, BANNED, n=1)[0]
    brute = max((sum(scores[i, INDEX[c]] for i, c in enumerate(lower)), "".join(lower))
                for lower in itertools.product(VOCAB[4:], repeat=3)
                if not rule_violations(upper, "".join(lower)))
    assert best[0] == brute[1] and best[1] == pytest.approx(brute[0])


@pytest.mark.parametrize("seed", range(6))
def test_best_assignments_are_the_exact_n_best(seed):
    """Groups that want the same few characters: compare with every assignment of distinct ones."""
    import itertools

    from zhnlp.couplet.decode import best_assignments

    rng = np.random.default_rng(seed)
    groups, tokens = 4, 6
    scores = rng.normal(size=(groups, tokens))
    scores[:, 0] += 3  # every group's favourite is token 0: clashes everywhere
    scores[0, 5] = -np.inf  # a forbidden character
    order = np.argsort(-scores, axis=1)  # (G, tokens): each group's candidates, best first
    brute = sorted((sum(scores[g, t] for g, t in enumerate(choice)), list(choice))
                   for choice in itertools.permutations(range(tokens), groups)
                   if np.isfinite(sum(scores[g, t] for g, t in enumerate(choice))))[::-1]
    found = best_assignments(order, np.take_along_axis(scores, order, 1), n=7)
    assert [tokens for _, tokens in found] == [choice for _, choice in brute[:7]]
    assert [total for total, _ in found] == pytest.approx([total for total, _ in brute[:7]])


def test_a_search_cut_short_still_answers_with_distinct_characters():
    """Groups with the same preferences make the exact search long; when it stops at its budget before
    any line is complete, the greedy assignment answers (a rule-abiding line, never an empty one)."""
    from zhnlp.couplet.decode import best_assignments

    groups = 8
    scores = np.tile(-np.arange(groups, dtype=float) * 0.01, (groups, 1))  # (G, G): identical rows
    scores[:, 0] += np.linspace(0, 0.001, groups)  # group 7 the most confident: the widest margin
    ids = np.tile(np.arange(10, 10 + groups), (groups, 1))
    found = best_assignments(ids, scores, n=1, max_expansions=20)
    assert len(found) == 1
    total, tokens = found[0]
    assert sorted(tokens) == list(range(10, 10 + groups))  # distinct
    assert tokens[7] == 10 and tokens[6] == 11  # the most confident group takes its favourite first
    assert total == pytest.approx(sum(scores[g, tokens[g] - 10] for g in range(groups)))
    # a constant per group (the softmax's normaliser) changes the scores, not the answer
    shifted = scores + np.random.default_rng(0).normal(0, 3, size=(groups, 1))
    assert best_assignments(ids, shifted, n=1, max_expansions=20)[0][1] == tokens
    # no assignment exists (two groups, one allowed character): still none
    assert best_assignments(np.array([[3, 4], [3, 4]]), np.array([[0.0, -np.inf], [0.0, -np.inf]])) == []


@needs_torch
@pytest.mark.parametrize("search_block", [1, 256])
def test_batched_decoder_matches_the_line_by_line_decoder(monkeypatch, search_block):
    from zhnlp.couplet import Couplet, search

    monkeypatch.setattr(search, "SEARCH_BLOCK", search_block)  # lines whose exact searches are set up together

    torch.manual_seed(0)
    model = CoupletModel(CoupletConfig(vocab_size=len(VOCAB), embedding_dim=16, dilations=(1, 2))).eval()
    with torch.no_grad():
        model.output.weight.mul_(20)  # peaked distributions, so that groups clash on favourites
    bot = Couplet(model, VOCAB, "cpu")
    uppers = ["天地", "天天", "风云日月", "山水，山水。", "天，天地，地", "花鸟红绿", "春", "日月日月日"]
    for n in (1, 3):
        for tone in (False, True):
            answers = bot.answer(uppers, n=n, tone=tone)
            for upper, answer in zip(uppers, answers):
                ids = [INDEX[c] for c in upper]
                with torch.no_grad():
                    log_probs = torch.log_softmax(model(torch.tensor([ids])), -1)[0].numpy()
                expected = constrained_decode(upper, ids, log_probs, VOCAB, bot.banned, n,
                                              bot.level_tone_mask() if tone else None)
                assert [t for t, _ in answer.candidates] == [t for t, _ in expected], (upper, n, tone)
                assert [s for _, s in answer.candidates] == pytest.approx([s for _, s in expected], abs=1e-4)
            assert bot(uppers, n=1, tone=tone) == [a.best for a in bot.answer(uppers, tone=tone)]


@needs_torch
@pytest.mark.parametrize("encode_positions,contexts", [(1024, None), (5, None), (1024, "output"), (5, "input")])
def test_numpy_runtime_matches_the_torch_model(tmp_path, monkeypatch, encode_positions, contexts):
    """The CPU path answers without torch; it must compute what the PyTorch model computes, whether
    a batch's lines are encoded at once or a slice at a time (5 positions: one line per slice), with
    hashed contexts added to the CNN's output or to its input too."""
    from zhnlp.couplet import Couplet, numpy_model
    from zhnlp.couplet.numpy_model import NumpyCouplet

    monkeypatch.setattr(numpy_model, "ENCODE_POSITIONS", encode_positions)

    torch.manual_seed(1)
    shape = {} if contexts is None else {"context_buckets": 61, "context_dim": 8, "context_input": contexts == "input"}
    model = CoupletModel(CoupletConfig(vocab_size=len(VOCAB), embedding_dim=16, dilations=(1, 2, 3), **shape)).eval()
    if contexts:
        torch.nn.init.normal_(model.context_embedding.weight)  # large enough to change the answers
    model.save_pretrained(tmp_path / "m", VOCAB, dtype=torch.float32)
    runtime = NumpyCouplet.from_pretrained(tmp_path / "m")
    ids = np.array([[4, 5, 6, 7, 0], [8, 9, 2, 4, 4]])  # padding and punctuation included
    with torch.no_grad():
        expected = model(torch.from_numpy(ids)).numpy()
    assert runtime.vocab == VOCAB and np.allclose(runtime.logits(runtime.encode(ids)), expected, atol=1e-5)
    uppers = ["天地，山水", "日月日月", "春"]
    on_numpy = Couplet.from_pretrained(tmp_path / "m", device="cpu")
    assert on_numpy.device == "cpu (numpy)"
    for a, b in zip(on_numpy.answer(uppers, n=3), Couplet(model, VOCAB).answer(uppers, n=3)):
        assert [t for t, _ in a.candidates] == [t for t, _ in b.candidates]
        assert [s for _, s in a.candidates] == pytest.approx([s for _, s in b.candidates], abs=1e-4)


@needs_torch
@pytest.mark.parametrize("with_shortlist", [False, True])
def test_batches_decoded_on_threads_match_one_line_at_a_time(tmp_path, monkeypatch, with_shortlist):
    """Many small batches go to a thread pool (one BLAS thread each), and with a shortlist the output
    layer runs once for all of them; the answers and their order must be those of decoding each
    line alone."""
    from zhnlp import parallel
    from zhnlp.couplet import Couplet, batching, couplet, search
    from zhnlp.couplet.shortlist import build_shortlist, save_shortlist

    torch.manual_seed(2)
    CoupletModel(CoupletConfig(vocab_size=len(VOCAB), embedding_dim=16)).save_pretrained(
        tmp_path / "m", VOCAB, dtype=torch.float32)
    if with_shortlist:
        save_shortlist(tmp_path / "m", build_shortlist(_mapping_pairs(60), VOCAB, size=5))
    bot = Couplet.from_pretrained(tmp_path / "m", device="cpu")
    assert (bot.shortlist is not None) == with_shortlist
    rng = random.Random(0)
    letters = [c for c in VOCAB[2:] if c not in "，。"]
    uppers = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(60)]
    pools = []
    original = parallel.batch_threads
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(couplet, "batch_threads", lambda chunks: pools.append(chunks) or original(chunks))
    together = bot.answer(uppers, n=2, tone=True, batch_size=3)
    assert pools[0] > 4  # many chunks: the threaded path ran
    best = bot(uppers, batch_size=7)
    monkeypatch.setattr(batching, "WAVE_LINES", 7)  # the input in waves of a few chunks: the same answers
    monkeypatch.setattr(search, "SEARCH_BLOCK", 2)  # the exact search's candidates ranked 2 lines at a time
    in_waves = bot.answer(uppers, n=2, tone=True, batch_size=3)
    assert [[t for t, _ in a.candidates] for a in in_waves] == [[t for t, _ in a.candidates] for a in together]
    assert bot(uppers, batch_size=7) == best == [bot(upper) for upper in uppers]
    for upper, answer in zip(uppers, together):
        alone = bot.answer(upper, n=2, tone=True)
        assert answer.upper == upper and [t for t, _ in answer.candidates] == [t for t, _ in alone.candidates]
        assert [s for _, s in answer.candidates] == pytest.approx([s for _, s in alone.candidates], abs=1e-5)


def test_plain_decoder_forbids_the_upper_character_even_punctuation():
    upper = "天，"
    scores = np.full((2, len(VOCAB)), -10.0)
    scores[0, INDEX["天"]] = scores[1, INDEX["，"]] = 0.0
    scores[0, INDEX["地"]] = scores[1, INDEX["。"]] = -1.0
    lower = "".join(VOCAB[i] for i in plain_decode([INDEX[c] for c in upper], scores, np.array([0, 1])))
    assert lower == "地。" and "punctuation not copied" in rule_violations(upper, lower)


def test_rule_violations_names_each_rule():
    assert rule_violations("天地", "天山") == ["same character at the same position"]
    assert rule_violations("天天", "山水") == ["repetition differs"]
    assert rule_violations("天地", "山山") == ["repetition differs"]
    assert rule_violations("天地", "山") == ["length"]
    assert rule_violations("天，地", "山水云") == ["punctuation not copied"]


def test_tone_constraint_ends_on_a_level_tone():
    from zhnlp.couplet.tones import is_level_tone

    upper = "风云日月"
    level = np.array([is_level_tone(c) for c in VOCAB])
    scores = _random_scores(4, 3)
    scores[-1, level] -= 5.0  # the untoned decoder would end on an oblique tone
    found = constrained_decode(upper, [INDEX[c] for c in upper], scores, VOCAB, BANNED, n=5, level_tone=level)
    assert len(found) == 5 and all(len(lower) == 4 for lower, _ in found)
    for lower, _ in found:
        assert is_level_tone(lower[-1]) and not rule_violations(upper, lower)
    untoned = constrained_decode(upper, [INDEX[c] for c in upper], scores, VOCAB, BANNED, n=1)
    assert not is_level_tone(untoned[0][0][-1])


@needs_torch
@pytest.mark.parametrize("groups_per_product", [1, 2, 64])
def test_shortlisted_logits_are_the_output_layer_at_the_shortlist(tmp_path, monkeypatch, groups_per_product):
    """Characters held by the same number of positions share stacked products, cut into runs; on one
    thread or two, and on PyTorch in slices of positions, every row must get the full output layer's
    logits at its shortlist's columns."""
    from concurrent.futures import ThreadPoolExecutor

    from zhnlp.couplet import numpy_model, torch_network

    monkeypatch.setattr(numpy_model, "GROUPS_PER_PRODUCT", groups_per_product)
    torch.manual_seed(3)
    CoupletModel(CoupletConfig(vocab_size=len(VOCAB), embedding_dim=8)).save_pretrained(
        tmp_path / "m", VOCAB, dtype=torch.float32)
    runtime = numpy_model.NumpyCouplet.from_pretrained(tmp_path / "m")
    rng = np.random.default_rng(0)
    upper_ids = np.repeat(np.arange(4, 11), [1, 1, 1, 2, 2, 3, 5])  # characters held 1, 2, 3 and 5 times
    rng.shuffle(upper_ids)
    hidden = rng.normal(size=(len(upper_ids), 8)).astype(np.float32)  # (N, C)
    shortlist = np.stack([rng.permutation(len(VOCAB))[:6] for _ in VOCAB]).astype(np.int16)  # (V, K)
    expected = np.take_along_axis(runtime.logits(hidden), shortlist[upper_ids].astype(np.int64), 1)  # (N, K)
    assert np.allclose(runtime.shortlisted_logits(hidden, upper_ids, shortlist), expected, atol=1e-5)
    with ThreadPoolExecutor(2) as pool:
        assert np.allclose(runtime.shortlisted_logits(hidden, upper_ids, shortlist, pool, 2), expected, atol=1e-5)
    monkeypatch.setattr(torch_network, "OUTPUT_ROWS", 4)  # PyTorch's whole output layer, 4 positions at a time
    on_torch = torch_network.TorchNetwork(CoupletModel.from_pretrained(tmp_path / "m"), "cpu")
    assert np.allclose(on_torch.shortlisted_logits(hidden, upper_ids, shortlist), expected, atol=1e-5)


def test_shortlist_holds_the_most_aligned_characters_and_never_a_banned_one():
    from zhnlp.couplet.decode import never_emitted
    from zhnlp.couplet.shortlist import build_shortlist

    pairs = [("天地", "地天"), ("天山", "云水"), ("天风", "云月"), ("天，", "花，"), ("山", "水")]
    shortlist = build_shortlist(pairs, VOCAB, size=3)  # (V, 3)
    assert shortlist.shape == (len(VOCAB), 3)
    # 天 is answered by 云 twice, 地 and 花 once each (ties by id); 天 itself and "，" never
    assert [VOCAB[i] for i in shortlist[INDEX["天"]]] == ["云", "地", "花"]
    # 山 has one partner, 水; then the most frequent lower characters (云 2, 水 2 ...) fill the row
    assert VOCAB[shortlist[INDEX["山"], 0]] == "水" and len(set(shortlist[INDEX["山"]].tolist())) == 3
    assert not np.isin(shortlist, never_emitted(VOCAB)).any()
    assert not (shortlist == np.arange(len(VOCAB))[:, None]).any()  # never the upper character itself
    small = build_shortlist(pairs, VOCAB[:8], size=64)  # 4 characters to emit: rows of the other 3
    assert small.shape == (8, 3)


@needs_torch
def test_shortlist_decoding_keeps_the_rules_and_falls_back_when_it_runs_dry(tmp_path):
    """Every chosen character comes from its position's shortlist row; a line whose groups all share
    one single partner cannot be served by the shortlist and is decoded over the whole vocabulary."""
    from zhnlp.couplet import Couplet

    torch.manual_seed(3)
    model = CoupletModel(CoupletConfig(vocab_size=len(VOCAB), embedding_dim=16)).eval()
    rng = np.random.default_rng(0)
    emittable = np.arange(4, len(VOCAB))
    shortlist = np.stack([rng.choice(emittable[emittable != u], size=4, replace=False)
                          for u in range(len(VOCAB))])  # (V, 4)
    bot, whole = Couplet(model, VOCAB, shortlist=shortlist), Couplet(model, VOCAB)
    uppers = ["天地", "天天", "风云日月", "山水，山水。", "天，天地，地", "日月日月日"]
    for tone in (False, True):
        for answer in bot.answer(uppers, n=3, tone=tone):
            assert answer.candidates
            for lower, _ in answer.candidates:
                assert rule_violations(answer.upper, lower) == []
                assert all(INDEX[w] in shortlist[INDEX[u]] for u, w in zip(answer.upper, lower) if u not in "，。")
    dry = Couplet(model, VOCAB, shortlist=np.full_like(shortlist, INDEX["秋"]))  # one partner for every character
    assert dry("天") == "秋"  # one group: the shortlist serves it
    assert dry("天地") == whole("天地") != "秋秋"  # two groups, one character: the whole vocabulary serves them


@needs_torch
def test_a_broken_shortlist_file_is_a_clear_error(tmp_path):
    from safetensors.numpy import save_file

    from zhnlp.couplet import Couplet
    from zhnlp.couplet.shortlist import SHORTLIST_FILE
    from zhnlp.errors import InputError

    CoupletModel(CoupletConfig(vocab_size=len(VOCAB), embedding_dim=8)).save_pretrained(tmp_path, VOCAB)
    identity = np.tile(np.arange(len(VOCAB), dtype=np.int32)[:, None], (1, 2))  # each character its own partner
    for broken in (identity, identity[:5]):
        save_file({"shortlist": broken}, str(tmp_path / SHORTLIST_FILE))
        with pytest.raises(InputError, match=SHORTLIST_FILE):
            Couplet.from_pretrained(tmp_path, device="cpu")
    assert Couplet.from_pretrained(tmp_path, device="cpu", shortlist=False).shortlist is None


def test_a_folder_with_malformed_context_windows_is_a_clear_error(tmp_path):
    from zhnlp.couplet.folder import read_folder
    from zhnlp.errors import InputError

    random_couplet_folder(tmp_path, VOCAB, dilations=(1,))
    config = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    (tmp_path / "config.json").write_text(json.dumps({**config, "context_windows": [[2, -2]]}), encoding="utf-8")
    with pytest.raises(InputError, match="not a couplet model config"):
        read_folder(tmp_path)


def test_a_lines_context_rows_depend_on_its_windows_only():
    """Hashed contexts: a line's rows do not depend on the padding of its batch; a window's rows
    change when a character inside it changes and not when one outside it does."""
    from zhnlp.couplet.contexts import HASHES, context_ids

    windows = ((-1, 0), (-2, 2))
    line = np.array([[4, 5, 6, 7, 8, 9]])
    alone = context_ids(line, windows, 1 << 16)  # (1, 6, 4)
    padded = context_ids(np.array([[4, 5, 6, 7, 8, 9, 0, 0], [9, 8, 7, 6, 5, 4, 3, 2]]), windows, 1 << 16)
    assert alone.shape == (1, 6, len(windows) * HASHES) and (padded[0, :6] == alone[0]).all()
    changed = line.copy()
    changed[0, 5] = 10  # inside position 3's 5-gram window, outside its left bigram
    rows = context_ids(changed, windows, 1 << 16)
    assert (rows[0, 3, :HASHES] == alone[0, 3, :HASHES]).all() and (rows[0, 3, HASHES:] != alone[0, 3, HASHES:]).all()
    assert (rows[0, 0] == alone[0, 0]).all()  # position 0: both windows end before position 5
    repeated = context_ids(np.array([[4, 5, 4, 5]]), ((-1, 0),), 1 << 16)
    assert (repeated[0, 1] == repeated[0, 3]).all() and (repeated[0, 0] != repeated[0, 2]).all()  # 5 after 4; 4 at the edge
    assert ((alone >= 0) & (alone < 1 << 16)).all()


@needs_torch
def test_hashed_contexts_reach_what_a_one_character_cnn_cannot_see(tmp_path):
    """lower[i] depends on upper[i + 1]: a CNN of kernel 1 sees only upper[i] and cannot learn it;
    the same CNN with hashed contexts (the right bigram among them) learns it."""
    from zhnlp.couplet import Couplet, train_couplet
    from zhnlp.training import TrainerConfig

    mapping = dict(zip("天山风日春花红$", "地水云月秋鸟绿雨"))
    rng = random.Random(0)
    pairs = []
    for _ in range(400):
        upper = "".join(rng.sample(list(mapping)[:-1], rng.randint(2, 5)))
        pairs.append((upper, "".join(mapping[c] for c in upper[1:] + "$")))
    data = _write_data(tmp_path / "data", pairs)
    settings = TrainerConfig(lr=1e-2, warmup_steps=2, max_steps=150, save_every=50, device="cpu",
                             metric="char_accuracy", patience=0)
    accuracy = {}
    for name, shape in (("plain", {}), ("contexts", {"context_buckets": 4096, "context_dim": 16})):
        config = CoupletConfig(embedding_dim=16, dilations=(1,), kernel_size=1, dropout=0.0, **shape)
        accuracy[name] = train_couplet(data, tmp_path / name, config, settings, batch_size=16,
                                       show_progress=False)["best_dev_char_accuracy"]
    assert accuracy["plain"] < 0.6 < 0.9 < accuracy["contexts"], accuracy
    assert json.loads((tmp_path / "contexts" / "config.json").read_text(encoding="utf-8"))["context_buckets"] == 4096
    bot = Couplet.from_pretrained(tmp_path / "contexts", device="cpu")  # the numpy runtime reads the table too
    assert bot("天山风") == "水云雨"


@needs_torch
def test_batches_bring_the_context_rows_the_model_would_compute():
    """Training batches carry the context table's rows (computed on the CPU in the batcher, so that
    a GPU step copies nothing back); the model gives the same with them as without."""
    import torch

    from zhnlp.couplet.data import CoupletBatches
    from zhnlp.couplet.folder import CoupletConfig
    from zhnlp.couplet.model import CoupletModel

    vocab = ["[PAD]", "[UNK]", *"天山风日春花红地水云月秋鸟绿"]
    config = CoupletConfig(vocab_size=len(vocab), embedding_dim=16, dilations=(1, 2), context_buckets=256, context_dim=8)
    model = CoupletModel(config, vocab).eval()
    with torch.no_grad():
        model.context_output.weight.normal_()  # a table with an effect
    pairs = _mapping_pairs(40)
    batch = next(iter(CoupletBatches(pairs, vocab, 8, 8, contexts=(config.context_windows, config.context_buckets))))
    assert batch["context_ids"].shape == (*batch["input_ids"].shape, 2 * len(config.context_windows))
    with torch.no_grad():
        given = model(batch["input_ids"], batch["labels"], batch["context_ids"])
        computed = model(batch["input_ids"], batch["labels"])
    assert torch.equal(given[0], computed[0]) and "context_ids" not in next(iter(CoupletBatches(pairs, vocab, 8, 8)))
    with torch.no_grad():
        other = model(batch["input_ids"], batch["labels"], torch.zeros_like(batch["context_ids"]))
    assert not torch.allclose(other[0], given[0])  # the rows are what the table reads


@needs_torch
def test_init_starts_from_a_folders_cnn_with_a_context_table_of_no_effect(tmp_path):
    """--init: the new run takes the folder's vocabulary and CNN; its fresh context table starts at
    no effect, so the model starts as the folder's; a conflicting shape flag is refused."""
    from zhnlp.couplet import train_couplet
    from zhnlp.couplet.numpy_model import NumpyCouplet
    from zhnlp.errors import InputError
    from zhnlp.training import TrainerConfig

    data = _write_data(tmp_path / "data", _mapping_pairs())
    _train(data, tmp_path / "plain", 60)
    still = TrainerConfig(lr=1e-12, warmup_steps=0, max_steps=1, save_every=50, device="cpu", patience=0)
    train_couplet(data, tmp_path / "grown", {"context_buckets": 512, "context_dim": 8}, still, batch_size=16,
                  show_progress=False, init_from=tmp_path / "plain")
    before, after = NumpyCouplet.from_pretrained(tmp_path / "plain"), NumpyCouplet.from_pretrained(tmp_path / "grown")
    assert after.config.context_buckets == 512 and after.vocab == before.vocab
    ids = np.array([[4, 5, 6], [7, 8, 9]])
    assert np.allclose(after.logits(after.encode(ids)), before.logits(before.encode(ids)), atol=1e-2)
    with pytest.raises(InputError, match="--width 64 \\(the folder has 32\\)"):
        train_couplet(data, tmp_path / "other", {"embedding_dim": 64}, still, show_progress=False,
                      init_from=tmp_path / "plain")


def _mapping_pairs(n=400, seed=0):
    """Pairs where lower[i] = MAP[upper[i]]: a rule a tiny model must learn."""
    mapping = dict(zip("天山风日春花红", "地水云月秋鸟绿"))
    rng = random.Random(seed)
    keys = list(mapping)
    pairs = []
    for _ in range(n):
        upper = "".join(rng.sample(keys, rng.randint(2, 5)))
        pairs.append((upper, "".join(mapping[c] for c in upper)))
    return pairs


def _write_data(folder, pairs):
    for split, items in (("train", pairs[:-40]), ("dev", pairs[-40:])):
        (folder / split).mkdir(parents=True)
        (folder / split / "in.txt").write_text("".join(" ".join(u) + "\n" for u, _ in items), encoding="utf-8")
        (folder / split / "out.txt").write_text("".join(" ".join(w) + "\n" for _, w in items), encoding="utf-8")
    return folder


def _train(data, out, steps, both_directions=False, **overrides):
    from zhnlp.couplet import train_couplet
    from zhnlp.training import TrainerConfig

    settings = {"lr": 1e-2, "warmup_steps": 2, "max_steps": steps, "save_every": 50, "device": "cpu",
                "metric": "char_accuracy", "patience": 0, **overrides}
    config = TrainerConfig(**settings)
    return train_couplet(data, out, CoupletConfig(embedding_dim=32, dilations=(1, 2)), config, batch_size=16,
                         show_progress=False, both_directions=both_directions)


@needs_torch
def test_both_directions_teaches_the_reverse_mapping_too(tmp_path):
    from zhnlp.couplet import Couplet

    data = _write_data(tmp_path / "data", _mapping_pairs())
    _train(data, tmp_path / "one", 120)
    _train(data, tmp_path / "both", 120, both_directions=True)
    assert Couplet.from_pretrained(tmp_path / "both", device="cpu")("地水云") == "天山风"
    assert Couplet.from_pretrained(tmp_path / "one", device="cpu")("地水云") != "天山风"


@needs_torch
def test_tiny_model_learns_a_mapping_and_round_trips(tmp_path):
    from zhnlp.couplet import Couplet, evaluate_couplet

    data = _write_data(tmp_path / "data", _mapping_pairs())
    summary = _train(data, tmp_path / "model", 120)
    assert summary["best_dev_char_accuracy"] > 0.9
    bot = Couplet.from_pretrained(tmp_path / "model", device="cpu")
    assert bot("天山风") == "地水云"
    scores = evaluate_couplet(tmp_path / "model", data, device="cpu")
    assert scores["constrained"]["rule_violation_rate"] == 0 and scores["constrained"]["char_accuracy"] > 0.9
    model = CoupletModel.from_pretrained(tmp_path / "model")
    again = Couplet(model, shortlist=bot.shortlist)  # the shortlist train_couplet wrote
    on_torch, on_numpy = again.answer("天山风", n=3).candidates, bot.answer("天山风", n=3).candidates
    assert [t for t, _ in on_torch] == [t for t, _ in on_numpy]
    assert [s for _, s in on_torch] == pytest.approx([s for _, s in on_numpy], abs=1e-4)


@needs_torch
def test_a_finished_run_writes_its_missing_shortlist_when_run_again(tmp_path):
    from zhnlp.couplet.shortlist import SHORTLIST_FILE

    data = _write_data(tmp_path / "data", _mapping_pairs(120))
    _train(data, tmp_path / "model", 10)
    written = (tmp_path / "model" / SHORTLIST_FILE).read_bytes()
    weights = (tmp_path / "model" / "model.safetensors").read_bytes()
    (tmp_path / "model" / SHORTLIST_FILE).unlink()
    _train(data, tmp_path / "model", 10)  # resumes at its last step: nothing to train
    assert (tmp_path / "model" / SHORTLIST_FILE).read_bytes() == written
    assert (tmp_path / "model" / "model.safetensors").read_bytes() == weights


@needs_torch
def test_couplet_training_resumes_after_a_kill_to_the_same_state(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from zhnlp.couplet.data import CoupletBatches

    data = _write_data(tmp_path / "data", _mapping_pairs(200))
    straight = _train(data, tmp_path / "straight", 40)
    original_iter = CoupletBatches.__iter__
    trained = []

    def interrupted_iter(self):
        for batch in original_iter(self):
            if self.shuffle:  # training batches only, not dev's
                if len(trained) == 25:  # as a job scheduler or `kill` would stop it
                    os.kill(os.getpid(), signal.SIGTERM)
                trained.append(1)
            yield batch

    monkeypatch.setattr(CoupletBatches, "__iter__", interrupted_iter)
    with pytest.raises(Interrupted, match=r"saved at step \d+; run the same command to resume") as stopped:
        _train(data, tmp_path / "resumed", 40)  # batches are made ahead on a thread: the kill lands a step or two early
    step = int(str(stopped.value).split("step ")[1].split(";")[0])
    assert 20 <= step <= 25
    assert json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())["step"] == step
    monkeypatch.undo()
    resumed = _train(data, tmp_path / "resumed", 40)
    assert resumed["steps"] == 40 and resumed["best_dev_char_accuracy"] == straight["best_dev_char_accuracy"]
    weights = [load_file(str(tmp_path / name / "checkpoint" / "model.safetensors")) for name in ("straight", "resumed")]
    for key in weights[0]:
        assert torch.allclose(weights[0][key], weights[1][key], atol=1e-5), key


@needs_torch
def test_fgm_changes_the_loss_path_but_not_the_api(tmp_path):
    data = _write_data(tmp_path / "data", _mapping_pairs(200))
    plain = _train(data, tmp_path / "plain", 15)
    fgm = _train(data, tmp_path / "fgm", 15, adversarial="fgm", epsilon=0.5)
    assert fgm["steps"] == plain["steps"] == 15
    plain_state = json.loads((tmp_path / "plain" / "checkpoint" / "state.json").read_text())
    fgm_state = json.loads((tmp_path / "fgm" / "checkpoint" / "state.json").read_text())
    assert plain_state["evaluations"][-1]["loss"] != fgm_state["evaluations"][-1]["loss"]


@needs_torch
def test_early_stopping_ends_training_when_dev_stops_improving(tmp_path):
    data = _write_data(tmp_path / "data", _mapping_pairs(200))
    summary = _train(data, tmp_path / "m", 2000, patience=1, eval_every=3)
    assert summary["stopped_early"] and summary["steps"] < 2000


def _cli(*args):
    from typer.testing import CliRunner

    from zhnlp.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


@needs_torch
def test_couplet_cli_batch_mode_json_and_bad_inputs(tmp_path):
    data = _write_data(tmp_path / "data", _mapping_pairs())
    _train(data, tmp_path / "model", 60)
    lines = tmp_path / "uppers.txt"
    lines.write_text("天山\n风日春\n", encoding="utf-8")
    result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert [len(x) for x in result.stdout.splitlines()] == [2, 3]
    written = tmp_path / "lowers.txt"
    result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu", "-o", written)
    assert result.exit_code == 0 and result.stdout == "", result.output
    assert [len(x) for x in written.read_text(encoding="utf-8").splitlines()] == [2, 3]
    result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu", "-o", written)
    assert result.exit_code == 1 and "--force" in result.stderr
    result = _cli("couplet", "天龘", "--model", tmp_path / "model", "--json", "-n", 2, "--device", "cpu")
    data_out = json.loads(result.stdout)
    assert data_out["unknown"] == ["龘"] and len(data_out["candidates"]) == 2
    for bad, message in (("abc", "no Chinese"), ("天" * 100, "at most"), (" ", "empty")):
        result = _cli("couplet", bad, "--model", tmp_path / "model", "--device", "cpu")
        assert result.exit_code == 1 and message in result.stderr, (bad, result.output)
    lines.write_text("天山\n\n风日春\n \n", encoding="utf-8")  # a blank line in, a blank line out
    result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu")
    assert result.exit_code == 0 and [len(x) for x in result.stdout.split("\n")] == [2, 0, 3, 0, 0], result.output
    result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu", "--json")
    assert result.stdout.split("\n")[1] == "" and json.loads(result.stdout.split("\n")[2])["upper"] == "风日春"
    lines.write_text("天山\n风日春\n" * 3 + "abc\n", encoding="utf-8")  # streamed in blocks of 4 lines
    with pytest.MonkeyPatch.context() as patch:
        from zhnlp.couplet import batching

        patch.setattr(batching, "WAVE_LINES", 4)
        result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu")
    assert result.exit_code == 1 and f"{lines}, line 7: no Chinese" in result.stderr, result.output
    assert [len(x) for x in result.stdout.splitlines()] == [2, 3, 2, 3]  # the first block was answered
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batching, "WAVE_LINES", 4)
        result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu", "-o", written, "--force")
    assert result.exit_code == 1 and "line 7" in result.stderr
    assert [len(x) for x in written.read_text(encoding="utf-8").splitlines()] == [2, 3]  # -o: the old file, whole
    result = _cli("couplet", "天地", "--model", tmp_path / "missing")
    assert result.exit_code == 1 and "zhnlp train couplet" in result.stderr
    result = _cli("evaluate", "couplet", "--data", data, "--model", tmp_path / "model", "--json", "--device", "cpu")
    scores = json.loads(result.stdout)
    assert set(scores) == {"argmax", "constrained", "n", "memory"} and scores["constrained"]["rule_violation_rate"] == 0
    assert scores["memory"] is False


@pytest.mark.parametrize("with_memory", [False, True])
def test_couplet_cli_on_the_cpu_never_imports_torch(tmp_path, with_memory):
    import subprocess
    import sys

    from zhnlp.couplet import CoupletMemory

    random_couplet_folder(tmp_path / "m", VOCAB, dilations=(1, 2))
    if with_memory:
        CoupletMemory.from_pairs(_memorable_pairs(), VOCAB).save(tmp_path / "m")
    code = ("import sys; from zhnlp.cli.main import app; from typer.testing import CliRunner; "
            f"r = CliRunner().invoke(app, ['couplet', '天地风云', '--model', {str(tmp_path / 'm')!r}, '--device', 'cpu']); "
            "assert r.exit_code == 0 and len(r.stdout.strip()) == 4, r.output; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_shipped_model_answers_with_no_flags_and_keeps_the_rules():
    from zhnlp.couplet import default_model_dir

    folder = default_model_dir()
    assert (folder / "model.safetensors").is_file(), f"no shipped couplet model in {folder}"
    size = sum((folder / name).stat().st_size for name in ("model.safetensors", "shortlist.safetensors"))
    assert size < 20 * 2**20  # issue 20: at most 20 MB
    result = _cli("couplet", "春回大地千山秀")
    assert result.exit_code == 0, result.output
    lower = result.stdout.strip()
    assert len(lower) == 7 and rule_violations("春回大地千山秀", lower) == []
    result = _cli("couplet", "海阔凭鱼跃，天高任鸟飞。", "-n", 3, "--json")
    answer = json.loads(result.stdout)
    assert len(answer["candidates"]) == 3
    for candidate in answer["candidates"]:
        assert rule_violations("海阔凭鱼跃，天高任鸟飞。", candidate["lower"]) == []


@requires_data
def test_the_shipped_model_on_dev_keeps_every_rule():
    from zhnlp.couplet import evaluate_couplet

    if not (SHARED_DATA / "couplet" / "dev" / "in.txt").is_file():
        pytest.skip(f"no couplet data at {SHARED_DATA / 'couplet'}")
    scores = evaluate_couplet(None, SHARED_DATA / "couplet", device="cpu", limit=400)
    assert scores["n"] == 400 and scores["constrained"]["rule_violation_rate"] == 0
    assert scores["constrained"]["char_accuracy"] > scores["argmax"]["char_accuracy"]


# ------------------------------------------------------------------------------------------ the memory
def _memorable_pairs(n=40, seed=3):
    """Distinct upper lines, each with an arbitrary rule-abiding lower line no mapping explains."""
    rng = random.Random(seed)
    letters = [c for c in VOCAB[4:]]
    pairs, seen = [], set()
    while len(pairs) < n:
        upper = "".join(rng.sample(letters, rng.randint(3, 6)))
        if upper in seen:
            continue
        lower = "".join(rng.sample([c for c in letters], len(upper)))
        if rule_violations(upper, lower):
            continue
        seen.add(upper)
        pairs.append((upper, lower))
    return pairs


def _untrained_model(folder, seed=5):
    return random_couplet_folder(folder, VOCAB, seed=seed)


@needs_torch
def test_the_memory_recalls_training_pairs_an_untrained_model_cannot(tmp_path):
    from zhnlp.couplet import Couplet, build_memory

    pairs = _memorable_pairs()
    data = _write_data(tmp_path / "data", pairs + pairs[:40])  # every pair in train
    _untrained_model(tmp_path / "model")
    summary = build_memory(data, tmp_path / "model", tmp_path / "remembering")
    assert summary["pairs"] == len(pairs) and summary["positions"] == sum(len(u) for u, _ in pairs)
    assert {p.name for p in (tmp_path / "remembering").iterdir()} == {"config.json", "model.safetensors", "vocab.txt",
                                                                       "memory.safetensors"}
    uppers, lowers = [u for u, _ in pairs], [w for _, w in pairs]
    bot = Couplet.from_pretrained(tmp_path / "remembering", device="cpu")
    assert bot.memory is not None and bot(uppers) == lowers
    alone = Couplet.from_pretrained(tmp_path / "remembering", device="cpu", memory=False)
    assert alone.memory is None and sum(a == b for a, b in zip(alone(uppers), lowers)) < len(pairs) // 4
    assert Couplet.from_pretrained(tmp_path / "model", device="cpu").memory is None  # the source is untouched
    model = CoupletModel.from_pretrained(tmp_path / "remembering")  # the PyTorch path (CUDA's), on the CPU
    on_torch = Couplet(model, memory=bot.memory).answer(uppers[:8], n=3)
    for a, b in zip(on_torch, bot.answer(uppers[:8], n=3)):
        assert [t for t, _ in a.candidates] == [t for t, _ in b.candidates]
        assert [s for _, s in a.candidates] == pytest.approx([s for _, s in b.candidates], abs=1e-4)


@pytest.mark.parametrize("upper", ["天", "天天", "天地天地", "山水，山水。", "风云日月春秋花鸟", "天，天地，地"])
def test_decoding_with_a_memory_keeps_every_rule(tmp_path, upper):
    from zhnlp.couplet import Couplet, CoupletMemory

    _untrained_model(tmp_path / "model")
    pairs = [("天地天地", "山水山水"), ("天天", "花红"), ("山水，山水。", "风云，日月。")]  # some break the rules
    memory = CoupletMemory.from_pairs(pairs + _memorable_pairs(), VOCAB)
    bot = Couplet.from_pretrained(tmp_path / "model", device="cpu")
    bot.memory = memory
    candidates = bot.answer(upper, n=4, tone=True).candidates
    assert len(candidates) == 4 and len({text for text, _ in candidates}) == 4
    assert [s for _, s in candidates] == sorted((s for _, s in candidates), reverse=True)
    for lower, _ in candidates:
        assert rule_violations(upper, lower) == [], (upper, lower)
    assert bot(upper, tone=True) == candidates[0][0]


def test_memory_interpolation_is_the_dense_dirichlet_chain():
    """The sparse update (scale and extra entries) against the formula step by step, with Counters."""
    from collections import Counter

    from zhnlp.couplet.memory import NEIGHBOUR_PRIOR, WINDOW_PRIOR, CoupletMemory, flat_layout

    pairs = _memorable_pairs(60, seed=8) + [("天地山", "风云日"), ("天地水", "月云花")]
    memory = CoupletMemory.from_pairs(pairs, VOCAB)
    queries = ["天地山水", "风云日", "天地水", "红"]
    rng = np.random.default_rng(0)
    for upper in queries:
        ids = np.array([[INDEX[c] for c in upper]])
        log_probs = np.log(rng.dirichlet(np.ones(len(VOCAB)), size=len(upper)))  # (T, V)
        flat, centres = flat_layout(ids)
        got = memory.interpolate(log_probs.copy(), flat, centres)
        padded = "\0" * 3 + upper + "\0" * 3
        for position in range(len(upper)):
            probs = np.exp(log_probs[position])

            def counts(left, right):
                found = Counter()
                for up, low in pairs:
                    text = "\0" * 3 + up + "\0" * 3
                    for i in range(len(up)):
                        if text[i + 3 - left:i + 4 + right] == padded[position + 3 - left:position + 4 + right]:
                            found[INDEX[low[i]]] += 1
                return found

            stages = [(counts(1, 0) + counts(0, 1), NEIGHBOUR_PRIOR)]
            stages += [(counts(w, w), WINDOW_PRIOR) for w in (1, 2, 3)]
            for found, prior in stages:
                added = np.zeros(len(VOCAB))
                for token, count in found.items():
                    added[token] = count
                probs = (added + prior * probs) / (sum(found.values()) + prior)
            np.testing.assert_allclose(np.exp(got[position]), probs, rtol=1e-6, atol=1e-12)
    uniform = np.log(np.full((3, len(VOCAB)), 1 / len(VOCAB)))
    mixed = memory.interpolate(uniform, *flat_layout(np.array([[INDEX["天"], INDEX["地"], INDEX["山"]]])))
    assert np.exp(mixed).sum(1) == pytest.approx(np.ones(3)) and mixed[0].argmax() == INDEX["风"]  # 天 -> 风 ...


def test_memory_reranking_prefers_remembered_lower_lines():
    from zhnlp.couplet.memory import CoupletMemory

    pairs = _memorable_pairs(30, seed=4)
    memory = CoupletMemory.from_pairs(pairs, VOCAB)
    for upper, lower in pairs:
        shuffled = lower[::-1]
        if shuffled == lower:
            continue
        scores = memory.rerank_scores(np.array([[INDEX[c] for c in upper]] * 2),
                                      np.array([[INDEX[c] for c in lower], [INDEX[c] for c in shuffled]]))
        assert scores[0] > scores[1], (upper, lower, scores)


def test_building_a_memory_never_overwrites_and_a_broken_one_is_a_clear_error(tmp_path):
    from zhnlp.couplet import Couplet, build_memory
    from zhnlp.couplet.memory import MEMORY_FILE
    from zhnlp.errors import InputError, OutputError

    data = _write_data(tmp_path / "data", _memorable_pairs(80))
    model = _untrained_model(tmp_path / "model")
    build_memory(data, model, model)  # in place: the model's own folder
    written = (model / MEMORY_FILE).read_bytes()
    with pytest.raises(OutputError, match="--force"):
        build_memory(data, model, model)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="not empty"):
        build_memory(data, model, tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text(encoding="utf-8") == "mine"
    build_memory(data, model, tmp_path / "taken", force=True)
    assert not (tmp_path / "taken" / "notes.txt").exists() and (tmp_path / "taken" / MEMORY_FILE).read_bytes() == written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    with pytest.raises(InputError, match="couplet model not found"):
        build_memory(data, tmp_path / "missing", tmp_path / "out")
    from safetensors.numpy import save_file

    from zhnlp.couplet.memory import pairs_layout

    upper, lower = pairs_layout(_memorable_pairs(5), VOCAB)
    for broken in ({"upper": upper[:-1], "lower": lower[:-1]}, {"upper": upper, "lower": lower[::-1].copy()}):
        save_file(broken, str(model / MEMORY_FILE))  # no zeros after the last line; lines out of step
        with pytest.raises(InputError, match="do not line up"):
            Couplet.from_pretrained(model, device="cpu")
    (model / MEMORY_FILE).write_bytes(b"not safetensors")
    with pytest.raises(InputError, match=MEMORY_FILE):
        Couplet.from_pretrained(model, device="cpu")
    assert Couplet.from_pretrained(model, device="cpu", memory=False).memory is None


def test_couplet_memory_cli(tmp_path):
    pairs = _memorable_pairs()
    data = _write_data(tmp_path / "data", pairs + pairs[:40])
    _untrained_model(tmp_path / "model")
    result = _cli("train", "couplet-memory", "--data", data, "--model", tmp_path / "model", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pairs"] == len(pairs)
    result = _cli("train", "couplet-memory", "--data", data, "--model", tmp_path / "model", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "--force" in result.stderr
    upper, lower = pairs[0]
    result = _cli("couplet", upper, "--model", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0 and result.stdout.strip() == lower, result.output
    result = _cli("evaluate", "couplet", "--data", data, "--model", tmp_path / "out", "--device", "cpu", "--json")
    scores = json.loads(result.stdout)
    assert scores["memory"] is True and scores["constrained"]["exact_match"] == 1.0  # dev pairs are train pairs
    result = _cli("evaluate", "couplet", "--data", data, "--model", tmp_path / "out", "--device", "cpu", "--json",
                  "--no-memory")
    assert json.loads(result.stdout)["memory"] is False and json.loads(result.stdout)["constrained"]["exact_match"] < 0.5
    result = _cli("train", "couplet-memory", "--data", tmp_path / "nowhere", "-o", tmp_path / "x")
    assert result.exit_code == 1 and "in.txt" in result.stderr
    upper_file = data / "train" / "in.txt"
    upper_file.write_bytes(upper_file.read_text(encoding="utf-8").encode("gbk"))  # GBK, as often found
    result = _cli("train", "couplet-memory", "--data", data, "-o", tmp_path / "y")
    assert result.exit_code == 1 and f"{upper_file}, line 1: cannot decode" in result.stderr, result.output
    assert "iconv" in result.stderr and not (tmp_path / "y").exists()


@needs_torch
def test_train_couplet_cli_resumes_with_the_checkpoints_shape_and_is_quiet(tmp_path):
    data = _write_data(tmp_path / "data", _mapping_pairs(120))
    args = ["train", "couplet", "--data", data, "-o", tmp_path / "m", "--epochs", 1, "--width", 16,
            "--dilations", "1,2", "--device", "cpu", "-q"]
    first = _cli(*args)
    assert first.exit_code == 0, first.output
    assert first.stderr == ""  # -q: no device, resuming or evaluation lines
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "couplet" and config["zhnlp_version"] and config["training"]["lr"] == 2e-3
    assert config["training"]["metric"] == "bleu"  # kept by the constrained decoder's dev BLEU
    record = json.loads((tmp_path / "m" / "training.json").read_text(encoding="utf-8"))
    assert record["best"] == json.loads(first.stdout)["best_dev_bleu"]
    bad = _cli(*[a if a != tmp_path / "m" else tmp_path / "m2" for a in args], "--metric", "rouge")
    assert bad.exit_code == 1 and "unknown couplet metric 'rouge'" in bad.stderr and "Traceback" not in bad.output
    conflict = _cli(*[a if a != 16 else 32 for a in args[:-1]], "--epochs", 2)
    assert conflict.exit_code == 1 and "--width 32 (the checkpoint has 16)" in conflict.stderr
    assert "Traceback" not in conflict.output and "RuntimeError" not in conflict.output
    added = _cli(*args[:-1], "--context-buckets", 64, "--epochs", 2)
    assert added.exit_code == 1 and "--context-buckets 64 (the checkpoint has 0)" in added.stderr
    resumed = _cli("train", "couplet", "--data", data, "-o", tmp_path / "m", "--epochs", 2, "--device", "cpu", "-q")
    assert resumed.exit_code == 0, resumed.output  # no shape flags: the checkpoint's
    assert json.loads(resumed.stdout)["epochs"] == 2
