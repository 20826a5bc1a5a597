"""Couplets: the constrained decoder's rules, a tiny model that learns a mapping, folders, resume, FGM, CLI."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from zhnlp.couplet import CoupletConfig, CoupletModel, constrained_decode, rule_violations  # noqa: E402
from zhnlp.couplet.decode import plain_decode  # noqa: E402

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
    for lower, _ in constrained_decode(upper, [INDEX[c] for c in upper], scores, VOCAB, BANNED, n=5, level_tone=level):
        assert is_level_tone(lower[-1])


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


def _train(data, out, steps, **overrides):
    from zhnlp.couplet import train_couplet
    from zhnlp.training import TrainerConfig

    settings = {"lr": 1e-2, "warmup_steps": 2, "max_steps": steps, "save_every": 50, "device": "cpu",
                "metric": "char_accuracy", "patience": 0, **overrides}
    config = TrainerConfig(**settings)
    return train_couplet(data, out, CoupletConfig(embedding_dim=32, dilations=(1, 2)), config, batch_size=16,
                         show_progress=False)


def test_tiny_model_learns_a_mapping_and_round_trips(tmp_path):
    from zhnlp.couplet import Couplet, evaluate_couplet

    data = _write_data(tmp_path / "data", _mapping_pairs())
    summary = _train(data, tmp_path / "model", 120)
    assert summary["best_dev_char_accuracy"] > 0.9
    bot = Couplet.from_pretrained(tmp_path / "model", device="cpu")
    assert bot("天山风") == "地水云"
    scores = evaluate_couplet(tmp_path / "model", data, device="cpu")
    assert scores["constrained"]["rule_violation_rate"] == 0 and scores["constrained"]["char_accuracy"] > 0.9
    model, vocab = CoupletModel.from_pretrained(tmp_path / "model")
    again = Couplet(model, vocab)
    assert again.answer("天山风", n=3).candidates == bot.answer("天山风", n=3).candidates


def test_fgm_changes_the_loss_path_but_not_the_api(tmp_path):
    data = _write_data(tmp_path / "data", _mapping_pairs(200))
    plain = _train(data, tmp_path / "plain", 15)
    fgm = _train(data, tmp_path / "fgm", 15, adversarial="fgm", epsilon=0.5)
    assert fgm["steps"] == plain["steps"] == 15
    plain_state = json.loads((tmp_path / "plain" / "checkpoint" / "state.json").read_text())
    fgm_state = json.loads((tmp_path / "fgm" / "checkpoint" / "state.json").read_text())
    assert plain_state["evaluations"][-1]["loss"] != fgm_state["evaluations"][-1]["loss"]


def test_early_stopping_ends_training_when_dev_stops_improving(tmp_path):
    data = _write_data(tmp_path / "data", _mapping_pairs(200))
    summary = _train(data, tmp_path / "m", 2000, patience=1, eval_every=3)
    assert summary["stopped_early"] and summary["steps"] < 2000


def _cli(*args):
    from typer.testing import CliRunner

    from zhnlp.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_couplet_cli_batch_mode_json_and_bad_inputs(tmp_path):
    data = _write_data(tmp_path / "data", _mapping_pairs())
    _train(data, tmp_path / "model", 60)
    lines = tmp_path / "uppers.txt"
    lines.write_text("天山\n风日春\n", encoding="utf-8")
    result = _cli("couplet", lines, "--model", tmp_path / "model", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert [len(x) for x in result.stdout.splitlines()] == [2, 3]
    result = _cli("couplet", "天龘", "--model", tmp_path / "model", "--json", "-n", 2, "--device", "cpu")
    data_out = json.loads(result.stdout)
    assert data_out["unknown"] == ["龘"] and len(data_out["candidates"]) == 2
    for bad, message in (("abc", "no Chinese"), ("天" * 100, "at most"), (" ", "empty")):
        result = _cli("couplet", bad, "--model", tmp_path / "model", "--device", "cpu")
        assert result.exit_code == 1 and message in result.stderr, (bad, result.output)
    result = _cli("couplet", "天地", "--model", tmp_path / "missing")
    assert result.exit_code == 1 and "zhnlp train couplet" in result.stderr
    result = _cli("evaluate", "couplet", "--data", data, "--model", tmp_path / "model", "--json", "--device", "cpu")
    scores = json.loads(result.stdout)
    assert set(scores) == {"argmax", "constrained", "n"} and scores["constrained"]["rule_violation_rate"] == 0
