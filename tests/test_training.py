"""The training stack itself (zhnlp/training): accumulation, EMA, early stopping both ways, stages and
resume, FGM, callbacks, the shared batcher and background batches; on tiny models made here."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zhnlp.errors import InputError, Interrupted
from zhnlp.training import (BackgroundBatches, LengthBucketedBatches, Trainer, TrainerCallback, TrainerConfig,
                            resume_model_config, saved_state)
from zhnlp.training.trainer import count_tokens

from .conftest import needs_torch, optional_module

torch = optional_module("torch")


# ---------------------------------------------------------------------------------------- batches (no torch)
def _collate(rows):
    return {"rows": rows.tolist()}


def test_length_buckets_cover_every_example_once_per_epoch_and_resume_mid_epoch():
    lengths = np.random.default_rng(0).integers(1, 30, size=203)
    batches = LengthBucketedBatches(lengths, _collate, batch_size=8, seed=3, pool_batches=4, max_tokens=100)
    epoch = [b["rows"] for b in batches]
    assert sorted(i for rows in epoch for i in rows) == list(range(203))
    assert all(len(rows) * max(lengths[rows]) <= 100 or len(rows) == 1 for rows in epoch)
    spread = np.mean([np.ptp(lengths[rows]) for rows in epoch])
    assert spread < np.ptp(lengths) / 3  # bucketed: far less spread inside a batch than overall
    assert [b["rows"] for b in batches] != epoch  # the next epoch is shuffled otherwise
    again = LengthBucketedBatches(lengths, _collate, batch_size=8, seed=3, pool_batches=4, max_tokens=100)
    iterator = iter(again)
    for _ in range(5):
        next(iterator)
    state = again.state_dict()
    resumed = LengthBucketedBatches(lengths, _collate, batch_size=8, seed=3, pool_batches=4, max_tokens=100)
    resumed.load_state_dict(state)
    assert [b["rows"] for b in resumed] == epoch[5:]


def test_exact_lengths_give_one_length_per_batch():
    lengths = np.array([3, 5, 3, 5, 5, 2, 3, 2])
    batches = LengthBucketedBatches(lengths, _collate, batch_size=2, exact_lengths=True)
    for batch in batches:
        assert len({int(lengths[i]) for i in batch["rows"]}) == 1


def test_background_batches_give_the_same_batches_states_and_errors():
    lengths = np.arange(1, 41)
    inner = LengthBucketedBatches(lengths, _collate, batch_size=4, seed=1)
    expected = []
    for batch in inner:
        expected.append((batch["rows"], inner.state_dict()))
    inner = LengthBucketedBatches(lengths, _collate, batch_size=4, seed=1)
    background = BackgroundBatches(inner, depth=3)
    seen = [(batch["rows"], background.state_dict()) for batch in background]
    assert seen == expected
    wrapped = BackgroundBatches(LengthBucketedBatches(lengths, _collate, batch_size=4, seed=1), depth=3)
    first = iter(wrapped)
    taken = [next(first)["rows"] for _ in range(3)]
    first.close()  # the reader ran ahead of the consumer; the next pass starts after what was consumed
    assert taken + [b["rows"] for b in wrapped] == [rows for rows, _ in expected]

    def broken(rows):
        raise ValueError("bad example")

    with pytest.raises(ValueError, match="bad example"):
        list(BackgroundBatches(LengthBucketedBatches(lengths, broken, batch_size=4)))


def test_tokens_are_counted_for_2d_and_3d_attention_masks():
    np_mask = np.ones((2, 4), dtype=np.int64)
    np_mask[1, 2:] = 0
    assert count_tokens({"attention_mask": np_mask}) == (6, 2)
    square = np_mask[:, None, :] * np_mask[:, :, None]  # (B, T, T): padded rows attend to nothing
    assert count_tokens({"attention_mask": square}) == (6, 2)
    assert count_tokens({"input_ids": np.array([[5, 6, 0]])}) == (2, 1)


# ---------------------------------------------------------------------------------------- the trainer
def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 2)).astype(np.float32)


def _batches(x, y, batch_size, seed=0, shuffle=False):
    def collate(rows):
        return {"x": torch.from_numpy(x[rows]), "y": torch.from_numpy(y[rows])}

    return LengthBucketedBatches(np.ones(len(x)), collate, batch_size, seed=seed, shuffle=shuffle)


def _mse(model, batch):
    return ((model(batch["x"]) - batch["y"]) ** 2).mean()


def _sgd(lr):
    return lambda groups: torch.optim.SGD(groups, lr=lr)


def _config(**overrides):
    settings = {"max_steps": 1, "warmup_steps": 0, "device": "cpu", "grad_clip": 0.0, "save_every": 1000,
                "lr": 0.1, "prefetch": 2, **overrides}
    return TrainerConfig(**settings)


def _linear(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 2)


def _trainer(model, out, config, **kwargs):
    kwargs.setdefault("optimizer", _sgd(config.lr))
    kwargs.setdefault("schedule", lambda step: 1.0)
    return Trainer(model, config, out, export=lambda m, d: None, loss_fn=kwargs.pop("loss_fn", _mse),
                   show_progress=False, **kwargs)


@needs_torch
def test_accumulating_two_batches_of_8_gives_the_gradient_of_one_batch_of_16(tmp_path):
    x, y = _data(16)
    whole, parts = _linear(), _linear()
    _trainer(whole, tmp_path / "a", _config()).train(_batches(x, y, 16))
    _trainer(parts, tmp_path / "b", _config(grad_accumulation=2)).train(_batches(x, y, 8))
    moved = [p.detach() - q.detach() for p, q in zip(whole.parameters(), _linear().parameters())]
    assert all(float(m.abs().max()) > 1e-4 for m in moved)  # a real step was taken
    for p, q in zip(whole.parameters(), parts.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    one_of_8 = _linear()
    _trainer(one_of_8, tmp_path / "c", _config()).train(_batches(x, y, 8))
    assert not torch.allclose(one_of_8.weight, whole.weight, atol=1e-4)  # half the batch: another step


@needs_torch
def test_ema_is_the_hand_computed_average_and_is_what_evaluation_sees(tmp_path):
    x, y = _data(16)
    model = _linear()
    trajectory = [{n: p.detach().clone() for n, p in model.named_parameters()}]

    class Record(TrainerCallback):
        def on_step_end(self, trainer, loss):
            trajectory.append({n: p.detach().clone() for n, p in trainer.model.named_parameters()})

    seen = []
    trainer = _trainer(model, tmp_path / "ema", _config(max_steps=4, ema_decay=0.5), callbacks=[Record()])
    trainer.train(_batches(x, y, 4), evaluate=lambda m: seen.append(m.weight.detach().clone()) or {"x": 1.0})
    expected = {n: v.clone() for n, v in trajectory[0].items()}
    for step in trajectory[1:]:
        for name in expected:
            expected[name] = 0.5 * expected[name] + 0.5 * step[name]
    for name, value in expected.items():
        assert torch.allclose(trainer.ema.shadow[name], value, atol=1e-6), name
    assert torch.allclose(seen[-1], expected["weight"], atol=1e-6)  # evaluated with the averaged weights
    assert torch.allclose(model.weight, trajectory[-1]["weight"])  # and trained on with its own after
    assert not torch.allclose(expected["weight"], trajectory[-1]["weight"], atol=1e-4)
    assert (tmp_path / "ema" / "checkpoint" / "ema.safetensors").is_file()


@pytest.mark.parametrize("mode, values, best, stop_at", [("max", [1.0, 2.0, 1.5, 1.4, 3.0], 2.0, 4),
                                                          ("min", [5.0, 4.0, 4.5, 4.6, 1.0], 4.0, 4)])
@needs_torch
def test_early_stopping_in_either_direction(tmp_path, mode, values, best, stop_at):
    x, y = _data(16)
    exported, scores = [], iter(values)

    def export(model, folder):
        exported.append(trainer.step)

    trainer = Trainer(_linear(), _config(max_steps=20, eval_every=1, metric="score", metric_mode=mode, patience=2),
                      tmp_path / mode, export=export, loss_fn=_mse, show_progress=False)
    result = trainer.train(_batches(x, y, 4), evaluate=lambda m: {"score": next(scores)})
    assert result.stopped_early and result.step == stop_at and trainer.best == best
    assert exported == [1, 2]  # the model is exported when it is the best so far, and only then
    record = json.loads((tmp_path / mode / "training.json").read_text(encoding="utf-8"))
    assert record["best"] == best and record["trainer"]["metric_mode"] == mode and record["zhnlp_version"]
    again = Trainer(_linear(), _config(max_steps=20, eval_every=1, metric="score", metric_mode=mode, patience=2),
                    tmp_path / mode, export=export, loss_fn=_mse, show_progress=False)
    rerun = again.train(_batches(x, y, 4), evaluate=lambda m: pytest.fail("a finished run was evaluated again"))
    assert rerun.step == stop_at and rerun.stopped_early  # saved: running it again trains no further
    assert saved_state(tmp_path / mode)["stopped_early"] is True


class _Dropout(torch.nn.Module if torch else object):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.linear(self.dropout(x))


def _job(out, kill=None):
    """Two stages (a Theseus-like replace, then fine-tune with its own learning rate) over one model,
    with dropout, so that resuming must restore the RNG too. ``kill``: (stage, step) to stop at."""
    x, y = _data(32, seed=1)
    torch.manual_seed(7)
    model = _Dropout()

    class Kill(TrainerCallback):
        def on_step_end(self, trainer, loss):
            if kill == (trainer.stage, trainer.step):
                raise KeyboardInterrupt

    for stage, steps, lr in (("replace", 6, 0.1), ("finetune", 5, 0.03)):
        config = _config(max_steps=steps, lr=lr, save_every=2, seed=4)
        _trainer(model, out, config, stage=stage, callbacks=[Kill()]).train(_batches(x, y, 4, seed=2, shuffle=True))
    return model


@pytest.mark.parametrize("kill", [("replace", 3), ("finetune", 3)])
@needs_torch
def test_a_job_of_stages_resumes_in_the_right_stage_to_the_same_weights(tmp_path, kill):
    straight = _job(tmp_path / "straight")
    with pytest.raises(Interrupted, match="saved at step 3"):
        _job(tmp_path / "killed", kill)
    assert saved_state(tmp_path / "killed", kill[0])["step"] == 3
    if kill[0] == "finetune":
        assert saved_state(tmp_path / "killed", "replace")["finished"] is True
    resumed = _job(tmp_path / "killed")
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    assert saved_state(tmp_path / "killed", "finetune")["step"] == 5


@needs_torch
def test_fgm_perturbs_the_embeddings_by_epsilon_and_restores_them_exactly(tmp_path):
    torch.manual_seed(0)

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(10, 4)
            self.out = torch.nn.Linear(4, 3)

        def get_input_embeddings(self):
            return self.embedding

        def forward(self, ids):
            return self.out(self.embedding(ids))

    model = Tagger()
    seen = []

    def loss_fn(m, batch):
        seen.append(m.embedding.weight.detach().clone())
        return torch.nn.functional.cross_entropy(m(batch["ids"]).flatten(0, 1), batch["labels"].flatten())

    trainer = _trainer(model, tmp_path / "fgm", _config(adversarial="fgm", epsilon=0.3), loss_fn=loss_fn)
    batch = {"ids": torch.tensor([[1, 2, 3], [4, 5, 1]]), "labels": torch.tensor([[0, 1, 2], [2, 1, 0]])}
    original = model.embedding.weight.detach().clone()
    loss_fn(model, batch).backward()
    gradient = model.embedding.weight.grad.clone()
    trainer.fgm_step(batch)
    perturbed = seen[-1]
    assert torch.equal(model.embedding.weight.detach(), original)  # restored bit for bit
    delta = perturbed - original
    assert float(delta.norm()) == pytest.approx(0.3, rel=1e-5)
    assert torch.allclose(delta, 0.3 * gradient / gradient.norm(), atol=1e-6)  # along the gradient
    assert not torch.allclose(model.embedding.weight.grad, gradient)  # the adversarial gradient was added


@needs_torch
def test_resume_takes_the_model_config_from_the_checkpoint_and_refuses_a_conflict(tmp_path):
    x, y = _data(16)
    trainer = _trainer(_linear(), tmp_path / "run", _config(max_steps=2), model_config={"width": 128,
                                                                                         "dilations": [1, 2]})
    trainer.train(_batches(x, y, 8))
    assert resume_model_config(tmp_path / "run", {}) == {"width": 128, "dilations": [1, 2]}
    assert resume_model_config(tmp_path / "run", {"width": 128, "dilations": (1, 2)})["width"] == 128
    with pytest.raises(InputError, match=r"--width 64 \(the checkpoint has 128\)"):
        resume_model_config(tmp_path / "run", {"width": 64}, {"width": "--width"})
    assert resume_model_config(tmp_path / "fresh", {"width": 64}) is None


@needs_torch
def test_quiet_training_logs_only_warnings(tmp_path):
    x, y = _data(16)
    messages = []
    Trainer(_linear(), _config(max_steps=2), tmp_path / "q", export=lambda m, d: None, loss_fn=_mse,
            show_progress=False, log=messages.append).train(_batches(x, y, 8), evaluate=lambda m: {"a": 1.0})
    assert messages == []
    loud = []
    Trainer(_linear(), _config(max_steps=3), tmp_path / "q", export=lambda m, d: None, loss_fn=_mse,
            show_progress=True, log=loud.append).train(_batches(x, y, 8), evaluate=lambda m: {"a": 1.0})
    assert any(m.startswith("device:") for m in loud) and any(m.startswith("resuming") for m in loud)


@needs_torch
def test_parameter_groups_freeze_and_scale_learning_rates(tmp_path):
    x, y = _data(16)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    frozen = [p.detach().clone() for p in model[0].parameters()]
    for p in model[0].parameters():
        p.requires_grad_(False)
    before = [p.detach().clone() for p in model[1].parameters()]
    _trainer(model, tmp_path / "g", _config(max_steps=1),
             parameter_groups=[{"params": list(model[1].parameters()), "lr": 0.0}]).train(_batches(x, y, 16))
    assert all(torch.equal(p, q) for p, q in zip(model[0].parameters(), frozen))
    assert all(torch.equal(p, q) for p, q in zip(model[1].parameters(), before))  # lr 0 for this group
