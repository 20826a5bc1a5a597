"""A step-based training loop shared by every model: AdamW with warm-up and linear decay (or the
optimiser, schedule and parameter groups a model injects), gradient accumulation and clipping,
autocast on CUDA, FGM, an exponential moving average of the weights, callbacks, early stopping in
either direction, progress on stderr, and checkpoints to resume from.

The output folder holds the usable model (written by the caller's ``export``, with ``training.json``
beside it: the training config, the model config, the step and zhnlp's version) and, under
``checkpoint/`` (``checkpoint-STAGE/`` for a stage of a job of several), what resuming needs: the
weights, the EMA, the optimiser, scheduler and scaler states, the Python, numpy, torch and CUDA RNG
states, the data position, the model's config and whether the run stopped early. A checkpoint is
written every ``save_every`` steps, at the end and on Ctrl-C, each time into a new folder that then
replaces the old one, so a kill at any moment leaves the last complete checkpoint. Running the same
command again resumes from it; a finished run (max_steps reached, or stopped early) is not trained
further.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import InputError, Interrupted, terminate_as_interrupt
from ..progress import progress_task
from .batching import BackgroundBatches, ResumableBatches
from .config import TrainerConfig
from .device import resolve_device, seed_everything

CHECKPOINT_DIR = "checkpoint"
TRAINING_FILE = "training.json"


class TrainerCallback:
    """Hooks into the loop (a Theseus replacement schedule, a custom log); each does nothing here.
    ``state_dict``/``load_state_dict`` let a callback with state resume with the checkpoint."""

    def on_train_begin(self, trainer: "Trainer") -> None: ...
    def on_step_begin(self, trainer: "Trainer") -> None: ...
    def on_step_end(self, trainer: "Trainer", loss: float) -> None: ...
    def on_evaluate(self, trainer: "Trainer", result: dict) -> None: ...
    def state_dict(self) -> dict:
        return {}
    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class TrainResult:
    step: int
    stopped_early: bool
    resumed_from: int
    seconds: float
    tokens: int
    last_loss: float | None
    evaluations: list[dict] = field(default_factory=list)
    evaluation_seconds: float = 0.0  # part of `seconds` spent evaluating and exporting
    best: float | None = None

    @property
    def training_seconds(self) -> float:
        return self.seconds - self.evaluation_seconds


def checkpoint_dir(output_dir: str | os.PathLike, stage: str = "") -> Path:
    return Path(output_dir) / (f"{CHECKPOINT_DIR}-{stage}" if stage else CHECKPOINT_DIR)


def saved_state(output_dir: str | os.PathLike, stage: str = "") -> dict | None:
    """The state.json of the checkpoint in ``output_dir`` (or of the complete ``.old`` one left by a
    kill between two renames), or None when there is none."""
    folder = checkpoint_dir(output_dir, stage)
    for candidate in (folder, folder.with_name(f".{folder.name}.old")):
        if (candidate / "state.json").is_file():
            return json.loads((candidate / "state.json").read_text(encoding="utf-8"))
    return None


def epoch_schedule(config, batches_per_epoch: int, epochs: int, evaluate: bool = True) -> None:
    """Fill a TrainerConfig's unset counts in epochs: an evaluation per epoch, a checkpoint at least
    once an epoch, ``epochs`` epochs when max_steps is 0; without evaluation, no metric to keep the
    best by and no early stopping."""
    config.eval_every = config.eval_every or batches_per_epoch
    config.save_every = min(config.save_every, batches_per_epoch)
    if not evaluate:
        config.metric, config.patience = "", 0
    if not config.max_steps:
        config.max_steps = epochs * batches_per_epoch


def start_run(output_dir: str | os.PathLike, restart: bool = False, force: bool = False, stage: str = "") -> bool:
    """Before a training job: with ``restart`` the checkpoint in ``output_dir`` is dropped; a new run
    checks that the folder may be written (``force``). Returns whether the job resumes."""
    import shutil

    from ..outputs import check_output_folder

    if restart:
        shutil.rmtree(checkpoint_dir(output_dir, stage), ignore_errors=True)
    resuming = saved_state(output_dir, stage) is not None
    if not resuming:
        check_output_folder(output_dir, force, training=True)
    return resuming


def resume_model_config(output_dir: str | os.PathLike, given: dict, flags: dict[str, str] | None = None,
                        stage: str = "") -> dict | None:
    """The model config to build the model with: the checkpoint's when there is one (nanoGPT's
    resume), else None (the caller's own). ``given``: the values the user set explicitly; one that
    differs from the checkpoint's is an InputError naming its flag (``flags``: field -> option)."""
    state = saved_state(output_dir, stage)
    if state is None or not state.get("model_config"):
        return None
    saved = state["model_config"]
    conflicts = config_conflicts(given, saved, flags)
    if conflicts:
        raise InputError(f"{'; '.join(conflicts)}: {Path(output_dir)} holds a checkpoint trained otherwise",
                         "leave the option out to resume with the checkpoint's value, or add --restart to start over")
    return saved


def config_conflicts(given: dict, saved: dict, flags: dict[str, str] | None = None,
                     holder: str = "the checkpoint") -> list[str]:
    """``flag value (the checkpoint has other)`` for each value set in ``given`` (None: not set) that
    differs from ``saved``'s, tuples and lists alike (as JSON holds them)."""
    flags = flags or {}
    return [f"{flags.get(key, key)} {_shown(value)} ({holder} has {_shown(saved[key])})"
            for key, value in given.items()
            if key in saved and value is not None and _comparable(saved[key]) != _comparable(value)]


def decay_groups(named_parameters, weight_decay: float) -> list[dict]:
    """The trainer's default param groups: AdamW's decay on matrices only (not biases and norms), over
    the parameters that require gradients."""
    trainable = [p for _, p in named_parameters if p.requires_grad]
    return [{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0}]


def load_matching_weights(model, weights: dict) -> list[str]:
    """The entries of ``weights`` (name -> numpy array) whose name and shape ``model`` has, loaded
    into it (starting a run from another folder's model, ``--init``); returns the names of the
    model's own parameters left as they were."""
    import numpy as np
    import torch

    own = model.state_dict()
    usable = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)).to(own[k].dtype) for k, v in weights.items()
              if k in own and tuple(own[k].shape) == tuple(v.shape)}
    model.load_state_dict(usable, strict=False)
    return [k for k in own if k not in usable]


def _comparable(value):
    return [_comparable(v) for v in value] if isinstance(value, (list, tuple)) else value  # as JSON holds it


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def count_tokens(batch: dict) -> tuple[int, int]:
    """(tokens, examples) of a batch: the attention mask's ones, where a 3-D mask (B, T, T) counts
    the positions that attend to anything; else the non-zero input ids (or source ids, for a
    seq2seq batch without a mask)."""
    mask = batch.get("attention_mask")
    if mask is None:
        mask = batch.get("input_ids", batch.get("source_ids"))
    if mask is None:
        return 0, 0
    if mask.ndim == 3:  # (B, T, T): a seq2seq mask; a padded position attends to nothing
        mask = (mask != 0).any(-1)  # (B, T)
    return int((mask != 0).sum()), int(mask.shape[0])


class Trainer:
    def __init__(self, model, config: TrainerConfig, output_dir: str | os.PathLike,
                 export: Callable[[object, Path], None], loss_fn: Callable | None = None,
                 show_progress: bool = True, log: Callable[[str], None] = _log,
                 callbacks: Sequence[TrainerCallback] = (), parameter_groups: list[dict] | None = None,
                 optimizer: Callable[[list[dict]], object] | None = None,
                 schedule: Callable[[int], float] | None = None, model_config: dict | None = None,
                 stage: str = "", record: dict | None = None):
        """``parameter_groups``: torch param groups (per-module learning rates; leave frozen modules
        out), default: the trainable parameters, decay on matrices only. ``optimizer``: makes the
        optimiser from the groups (default AdamW at ``config.lr``). ``schedule``: the learning-rate
        multiplier at each step (default: linear warm-up and decay). ``model_config``: saved in the
        checkpoint, so that resuming rebuilds the same model (``resume_model_config``). ``stage``:
        this run's name in a job of several stages; each has its own checkpoint. ``record``: more
        for training.json (what evaluating the exported model needs to know, say)."""
        from ..optional import require

        torch = require("torch", "training")
        config.check()
        self.config = config
        self.output_dir = Path(output_dir)
        self.export = export
        self.loss_fn = loss_fn or (lambda model, batch: model(**batch).loss)
        self.show_progress = show_progress
        self.log = log  # warnings
        self.info = log if show_progress else (lambda message: None)  # what -q silences
        self.callbacks = list(callbacks)
        self.model_config = model_config
        self.stage = stage
        self.record = record or {}
        seed_everything(config.seed)
        self.setup = resolve_device(config.device, config.precision)
        self.model = model.to(self.setup.device)
        if parameter_groups is None:
            parameter_groups = decay_groups(model.named_parameters(), config.weight_decay)
        self.optimizer = (optimizer or (lambda groups: torch.optim.AdamW(groups, lr=config.lr)))(parameter_groups)
        warmup, total = max(config.warmup_steps, 0), max(config.max_steps, 1)

        def linear(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / max(total - warmup, 1))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule or linear)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.setup.needs_grad_scaler)
        self.ema = None
        if config.ema_decay:
            from .ema import ExponentialMovingAverage

            self.ema = ExponentialMovingAverage(self.model, config.ema_decay)
        self.step = 0
        self.tokens = 0
        self.evaluations: list[dict] = []
        self.evaluation_seconds = 0.0
        self.data_state: dict = {}  # the data position after the last trained batch
        self.best: float | None = None  # best value of config.metric so far
        self.evaluations_since_best = 0
        self.stopped_early = False

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        return checkpoint_dir(self.output_dir, self.stage)

    def evaluation_weights(self):
        """A context in which the model holds the weights to evaluate and export: the EMA's when on."""
        return self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext(self.model)

    def training_record(self) -> dict:
        from .. import __version__

        return {"zhnlp_version": __version__, "stage": self.stage, "step": self.step, "tokens": self.tokens,
                "best": self.best, "metric": self.config.metric, "stopped_early": self.stopped_early,
                "trainer": asdict(self.config), "model_config": self.model_config, **self.record}

    def _export(self) -> None:
        from ..outputs import write_text

        self.output_dir.mkdir(parents=True, exist_ok=True)
        with self.evaluation_weights():
            self.export(self.model, self.output_dir)
        write_text(self.output_dir / TRAINING_FILE, json.dumps(self.training_record(), indent=1, ensure_ascii=False,
                                                               default=str) + "\n")

    def save_checkpoint(self) -> None:
        import random

        import numpy as np
        import torch
        from safetensors.torch import save_file, save_model

        self.output_dir.mkdir(parents=True, exist_ok=True)
        final = self.checkpoint_dir
        fresh = final.with_name(f".{final.name}.new")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        save_model(self.model, str(fresh / "model.safetensors"))
        if self.ema is not None:
            save_file(self.ema.state_dict(), str(fresh / "ema.safetensors"))
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict(), "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                    "python_rng": random.getstate(), "numpy_rng": np.random.get_state(),
                    "callbacks": [callback.state_dict() for callback in self.callbacks]},
                   fresh / "optimizer.pt")
        state = {"step": self.step, "tokens": self.tokens, "data": self.data_state, "best": self.best,
                 "evaluations_since_best": self.evaluations_since_best, "evaluations": self.evaluations,
                 "stopped_early": self.stopped_early, "finished": self.finished, "config": asdict(self.config),
                 "model_config": self.model_config, "stage": self.stage}
        (fresh / "state.json").write_text(json.dumps(state, indent=1, default=str), encoding="utf-8")
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(fresh, final)
        shutil.rmtree(old, ignore_errors=True)
        if not self.config.metric:  # with a metric, the exported model is the best one, written when found
            self._export()

    @property
    def finished(self) -> bool:
        return self.stopped_early or self.step >= self.config.max_steps

    def load_checkpoint(self, batches: ResumableBatches) -> bool:
        """Restore from the checkpoint if there is one (or, after a kill between the two renames,
        from the complete ``.old`` one). Returns whether it resumed."""
        import random

        import numpy as np
        import torch
        from safetensors.torch import load_file, load_model

        folder = self.checkpoint_dir
        if not (folder / "state.json").is_file():
            folder = folder.with_name(f".{folder.name}.old")
            if not (folder / "state.json").is_file():
                return False
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        try:
            load_model(self.model, str(folder / "model.safetensors"), device=str(self.setup.device))
        except RuntimeError as exc:  # a model of another shape than the checkpoint's
            raise InputError(f"the checkpoint in {folder} does not fit this model ({str(exc).splitlines()[0][:160]})",
                             "resume with the options it was trained with, or add --restart to start over") from None
        if self.ema is not None and (folder / "ema.safetensors").is_file():
            self.ema.load_state_dict(load_file(str(folder / "ema.safetensors"), device=str(self.setup.device)))
        extra = torch.load(folder / "optimizer.pt", map_location=self.setup.device, weights_only=False)
        self.optimizer.load_state_dict(extra["optimizer"])
        self.scheduler.load_state_dict(extra["scheduler"])
        self.scaler.load_state_dict(extra["scaler"])
        torch.set_rng_state(extra["torch_rng"].cpu())
        if extra.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(extra["cuda_rng"])
        if extra.get("python_rng") is not None:
            random.setstate(extra["python_rng"])
        if extra.get("numpy_rng") is not None:
            np.random.set_state(extra["numpy_rng"])
        for callback, callback_state in zip(self.callbacks, extra.get("callbacks", [])):
            callback.load_state_dict(callback_state)
        self.step = int(state["step"])
        self.data_state = state["data"]
        self.tokens = int(state.get("tokens", 0))
        self.evaluations = state.get("evaluations", [])
        self.best = state.get("best")
        self.evaluations_since_best = int(state.get("evaluations_since_best", 0))
        self.stopped_early = bool(state.get("stopped_early", False))
        batches.load_state_dict(state["data"])
        return True

    # ------------------------------------------------------------------ the loop
    def train(self, batches: ResumableBatches, evaluate: Callable[[object], dict] | None = None) -> TrainResult:
        """Train to ``max_steps`` (or an early stop), resuming from the checkpoint when there is one.
        Ctrl-C or SIGTERM saves a checkpoint and raises ``zhnlp.errors.Interrupted`` (a KeyboardInterrupt
        whose hint says how to resume)."""
        with terminate_as_interrupt():
            return self._train(batches, evaluate)

    def _train(self, batches: ResumableBatches, evaluate: Callable[[object], dict] | None) -> TrainResult:
        config = self.config
        if config.prefetch > 0:
            batches = BackgroundBatches(batches, config.prefetch)
        resumed = self.load_checkpoint(batches)
        self.data_state = batches.state_dict()
        start_step = self.step
        start = time.perf_counter()
        where = f" (stage {self.stage})" if self.stage else ""
        if resumed and self.finished:
            self.info(f"already trained{where}: {'stopped early' if self.stopped_early else 'max steps reached'} "
                      f"at step {self.step} (checkpoint in {self.checkpoint_dir}); --restart trains anew")
            return self._result(start_step, start, None)
        self.info(f"device: {self.setup.description}")
        if resumed:
            self.info(f"resuming{where} from step {self.step} (checkpoint in {self.checkpoint_dir})")
        for callback in self.callbacks:
            callback.on_train_begin(self)
        last_loss = None
        self.model.train()
        try:
            with progress_task("training" + (f" {self.stage}" if self.stage else ""), total=config.max_steps,
                               unit="steps", enabled=self.show_progress) as task:
                task.advance(self.step)
                last_loss = self._loop(batches, evaluate, task)
            if evaluate is not None and (not self.evaluations or self.evaluations[-1]["step"] != self.step) \
                    and not self.stopped_early:
                self._evaluate(evaluate)
                self.save_checkpoint()
        except KeyboardInterrupt:
            if self.step > start_step:
                self.save_checkpoint()
                raise Interrupted(f"a checkpoint was saved at step {self.step}; run the same command to resume") \
                    from None
            raise
        return self._result(start_step, start, last_loss)

    def _result(self, start_step: int, start: float, last_loss: float | None) -> TrainResult:
        return TrainResult(self.step, self.stopped_early, start_step, time.perf_counter() - start, self.tokens,
                           last_loss, self.evaluations, self.evaluation_seconds, self.best)

    def _loop(self, batches, evaluate, task) -> float | None:
        import torch

        config = self.config
        last_loss = smoothed = None
        window_tokens, window_examples, window_start = 0, 0, time.perf_counter()
        micro = 0  # batches in the gradient being accumulated
        step_loss = 0.0
        while self.step < config.max_steps:
            epoch_had_batches = False
            for batch in batches:
                epoch_had_batches = True
                after_batch = batches.state_dict()  # where the data stands once this batch is trained
                if micro == 0:
                    for callback in self.callbacks:
                        callback.on_step_begin(self)
                batch = {k: v.to(self.setup.device, non_blocking=True) for k, v in batch.items()}
                with self.setup.autocast():
                    loss = self.loss_fn(self.model, batch)
                if not torch.isfinite(loss):
                    self.log(f"warning: step {self.step}: loss is {loss.item()}; batch skipped")
                    continue
                self.scaler.scale(loss / config.grad_accumulation).backward()
                if config.adversarial == "fgm":
                    self.fgm_step(batch)
                n_tokens, n_examples = count_tokens(batch)
                self.tokens += n_tokens
                window_tokens += n_tokens
                window_examples += n_examples
                step_loss += loss.item() / config.grad_accumulation
                micro += 1
                if micro < config.grad_accumulation:
                    continue
                self._optimizer_step()
                micro, last_loss, step_loss = 0, step_loss, 0.0
                self.data_state = after_batch
                smoothed = last_loss if smoothed is None else 0.98 * smoothed + 0.02 * last_loss
                elapsed = time.perf_counter() - window_start
                task.describe(f"training loss {smoothed:.3f} {window_examples / max(elapsed, 1e-9):,.0f} ex/s "
                              f"{window_tokens / max(elapsed, 1e-9):,.0f} tok/s")
                task.advance(1)
                for callback in self.callbacks:
                    callback.on_step_end(self, last_loss)
                stop = False
                if config.eval_every and evaluate and self.step % config.eval_every == 0:
                    stop = self._evaluate(evaluate)
                if stop:
                    self.info(f"early stop at step {self.step}: {config.metric} has not improved in "
                              f"{config.patience} evaluations (best {self.best:.4f})")
                    self.stopped_early = True
                if stop or self.step % config.save_every == 0 or self.step >= config.max_steps:
                    self.save_checkpoint()
                if stop or self.step >= config.max_steps:
                    return last_loss
            if not epoch_had_batches and self.step == 0:
                raise InputError("the training data gave no batch", "check the data")
        return last_loss

    def _optimizer_step(self) -> None:
        import torch

        self.scaler.unscale_(self.optimizer)
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1

    def fgm_step(self, batch: dict) -> None:
        """FGM (对抗训练浅谈, kexue.fm/archives/7234): move the embedding matrix by epsilon along its
        gradient's direction (the gradient accumulated so far; a loss scale does not change it), add
        the gradient of the loss there, and put the matrix back exactly as it was."""
        import torch

        embedding = self.model.get_input_embeddings().weight
        if embedding.grad is None:
            return
        norm = embedding.grad.norm()
        if not torch.isfinite(norm) or float(norm) == 0.0:
            return
        original = embedding.data.clone()
        embedding.data.add_(self.config.epsilon * embedding.grad / norm)
        try:
            with self.setup.autocast():
                adversarial_loss = self.loss_fn(self.model, batch)
            self.scaler.scale(adversarial_loss / self.config.grad_accumulation).backward()
        finally:
            embedding.data.copy_(original)

    def _evaluate(self, evaluate: Callable[[object], dict]) -> bool:
        """Evaluate (with the EMA's weights when on); with a metric, export the model when it is the
        best so far. Returns whether training should stop early."""
        import torch

        started = time.perf_counter()
        self.model.eval()
        with torch.no_grad(), self.setup.autocast(), self.evaluation_weights():
            result = {"step": self.step, **evaluate(self.model)}
        self.model.train()
        self.evaluations.append(result)
        metric = self.config.metric
        if metric:
            if metric not in result:
                raise KeyError(f"evaluate() gave no {metric!r}")
            value = float(result[metric])
            better = self.best is None or (value > self.best if self.config.metric_mode == "max" else value < self.best)
            if better:
                self.best, self.evaluations_since_best = value, 0
                self._export()
                result["best"] = True
            else:
                self.evaluations_since_best += 1
        for callback in self.callbacks:
            callback.on_evaluate(self, result)
        shown = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) and not math.isnan(v) else f"{k} {v}"
                          for k, v in result.items())
        self.info(f"evaluation: {shown}")
        self.evaluation_seconds += time.perf_counter() - started
        return bool(metric and self.config.patience and self.evaluations_since_best >= self.config.patience)
