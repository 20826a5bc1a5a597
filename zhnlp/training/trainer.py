"""A step-based training loop shared by every model: AdamW with warm-up and linear decay,
gradient clipping, autocast on CUDA, progress on stderr, and checkpoints to resume from.

The output folder holds the usable model (written by the caller's ``export``) and, under
``checkpoint/``, what resuming needs: the weights, the optimiser, scheduler and scaler states, the
RNG states and the data position. A checkpoint is written every ``save_every`` steps, at the end,
and on Ctrl-C, each time into a new folder that then replaces the old one, so a kill at any
moment leaves the last complete checkpoint. Running the same command again resumes from it.
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
from typing import Callable, Iterator, Protocol

from ..errors import Interrupted
from ..progress import progress_task
from .device import resolve_device, seed_everything

CHECKPOINT_DIR = "checkpoint"


class ResumableBatches(Protocol):
    """Batches (dicts of CPU tensors) that can say where they are and start again from there."""

    def __iter__(self) -> Iterator[dict]: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class TrainerConfig:
    max_steps: int = 10_000  # optimiser steps in all, counting those before a resume
    lr: float = 5e-4  # peak learning rate, after warm-up
    weight_decay: float = 0.01
    warmup_steps: int = 500  # linear warm-up, then linear decay to 0 at max_steps
    grad_clip: float = 1.0
    device: str = "auto"
    precision: str = "auto"  # bf16/fp16 autocast on CUDA, fp32 on the CPU
    seed: int = 0
    save_every: int = 500  # steps between checkpoints
    eval_every: int = 0  # steps between evaluations (0: only at the end)
    metric: str = ""  # key of evaluate()'s result to keep the best model by (higher is better); "": keep the last
    patience: int = 0  # stop after this many evaluations without a better metric (0: never stop early)
    adversarial: str | None = None  # "fgm": train on embedding-perturbed inputs too (对抗训练浅谈)
    epsilon: float = 0.5  # FGM's step: the perturbation is epsilon * g / ||g|| on the embedding matrix


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

    @property
    def training_seconds(self) -> float:
        return self.seconds - self.evaluation_seconds


@contextlib.contextmanager
def _terminate_as_interrupt():
    """While training, SIGTERM (kill, a job scheduler) ends it like Ctrl-C: checkpoint saved."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Trainer:
    def __init__(self, model, config: TrainerConfig, output_dir: str | os.PathLike,
                 export: Callable[[object, Path], None], loss_fn: Callable | None = None,
                 show_progress: bool = True, log: Callable[[str], None] = _log):
        import torch

        self.config = config
        self.output_dir = Path(output_dir)
        self.export = export
        self.loss_fn = loss_fn or (lambda model, batch: model(**batch).loss)
        self.show_progress = show_progress
        self.log = log
        seed_everything(config.seed)
        self.setup = resolve_device(config.device, config.precision)
        self.model = model.to(self.setup.device)
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
        warmup, total = max(config.warmup_steps, 0), max(config.max_steps, 1)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / max(total - warmup, 1))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.setup.needs_grad_scaler)
        self.step = 0
        self.tokens = 0
        self.evaluations: list[dict] = []
        self.evaluation_seconds = 0.0
        self.data_state: dict = {}  # the data position after the last trained batch
        self.best: float | None = None  # best value of config.metric so far
        self.evaluations_since_best = 0
        self.stopped_early = False
        if config.adversarial not in (None, "fgm"):
            from ..errors import InputError

            raise InputError(f"unknown adversarial training: {config.adversarial!r}", "use --adversarial fgm")

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        return self.output_dir / CHECKPOINT_DIR

    def save_checkpoint(self) -> None:
        import torch
        from safetensors.torch import save_model

        self.output_dir.mkdir(parents=True, exist_ok=True)
        fresh = self.output_dir / f".{CHECKPOINT_DIR}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        save_model(self.model, str(fresh / "model.safetensors"))
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict(), "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                   fresh / "optimizer.pt")
        state = {"step": self.step, "tokens": self.tokens, "data": self.data_state, "best": self.best,
                 "evaluations_since_best": self.evaluations_since_best, "evaluations": self.evaluations,
                 "config": asdict(self.config)}
        (fresh / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
        old = self.output_dir / f".{CHECKPOINT_DIR}.old"
        shutil.rmtree(old, ignore_errors=True)
        if self.checkpoint_dir.exists():
            os.replace(self.checkpoint_dir, old)
        os.replace(fresh, self.checkpoint_dir)
        shutil.rmtree(old, ignore_errors=True)
        if not self.config.metric:  # with a metric, the exported model is the best one, written when found
            self.export(self.model, self.output_dir)

    def load_checkpoint(self, batches: ResumableBatches) -> bool:
        """Restore from ``output_dir/checkpoint`` if there is one (or, after a kill between the
        two renames, from the complete ``.checkpoint.old``). Returns whether it resumed."""
        import torch
        from safetensors.torch import load_model

        folder = self.checkpoint_dir
        if not (folder / "state.json").is_file():
            folder = self.output_dir / f".{CHECKPOINT_DIR}.old"
            if not (folder / "state.json").is_file():
                return False
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        load_model(self.model, str(folder / "model.safetensors"), device=str(self.setup.device))
        extra = torch.load(folder / "optimizer.pt", map_location=self.setup.device, weights_only=False)
        self.optimizer.load_state_dict(extra["optimizer"])
        self.scheduler.load_state_dict(extra["scheduler"])
        self.scaler.load_state_dict(extra["scaler"])
        torch.set_rng_state(extra["torch_rng"].cpu())
        if extra.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(extra["cuda_rng"])
        self.step = int(state["step"])
        self.data_state = state["data"]
        self.tokens = int(state.get("tokens", 0))
        self.evaluations = state.get("evaluations", [])
        self.best = state.get("best")
        self.evaluations_since_best = int(state.get("evaluations_since_best", 0))
        batches.load_state_dict(state["data"])
        return True

    # ------------------------------------------------------------------ the loop
    def train(self, batches: ResumableBatches, evaluate: Callable[[object], dict] | None = None) -> TrainResult:
        """Train to ``max_steps`` (or an early stop), resuming from the checkpoint when there is one.
        Ctrl-C or SIGTERM saves a checkpoint and raises ``zhnlp.errors.Interrupted`` (a KeyboardInterrupt
        whose hint says how to resume)."""
        with _terminate_as_interrupt():
            return self._train(batches, evaluate)

    def _train(self, batches: ResumableBatches, evaluate: Callable[[object], dict] | None) -> TrainResult:
        import torch

        config = self.config
        resumed = self.load_checkpoint(batches)
        self.data_state = batches.state_dict()
        start_step = self.step
        self.log(f"device: {self.setup.description}")
        if resumed:
            self.log(f"resuming from step {self.step} (checkpoint in {self.checkpoint_dir})")
        start = time.perf_counter()
        last_loss = smoothed = None
        window_tokens, window_examples, window_start = 0, 0, time.perf_counter()
        self.model.train()
        try:
            with progress_task("training", total=config.max_steps, unit="steps",
                               enabled=self.show_progress) as task:
                task.advance(self.step)
                while self.step < config.max_steps:
                    for batch in batches:
                        # where the data stands once this batch is trained; saved only after it is
                        after_batch = batches.state_dict()
                        batch = {k: v.to(self.setup.device, non_blocking=True) for k, v in batch.items()}
                        with self.setup.autocast():
                            loss = self.loss_fn(self.model, batch)
                        if not torch.isfinite(loss):
                            self.log(f"warning: step {self.step}: loss is {loss.item()}; batch skipped")
                            self.optimizer.zero_grad(set_to_none=True)
                            continue
                        self.scaler.scale(loss).backward()
                        if config.adversarial == "fgm":
                            self._fgm_step(batch)
                        self.scaler.unscale_(self.optimizer)
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                        self.scaler.step(self.optimizer)
                        self.scaler.update()
                        self.optimizer.zero_grad(set_to_none=True)
                        self.scheduler.step()
                        self.step += 1
                        self.data_state = after_batch
                        mask = batch.get("attention_mask", batch.get("input_ids"))
                        n_tokens = int((mask != 0).sum()) if mask is not None else 0
                        self.tokens += n_tokens
                        window_tokens += n_tokens
                        window_examples += len(mask) if mask is not None else 0
                        last_loss = loss.item()
                        smoothed = last_loss if smoothed is None else 0.98 * smoothed + 0.02 * last_loss
                        elapsed = time.perf_counter() - window_start
                        task.describe(f"training loss {smoothed:.3f} {window_examples / max(elapsed, 1e-9):,.0f} ex/s "
                                      f"{window_tokens / max(elapsed, 1e-9):,.0f} tok/s")
                        task.advance(1)
                        stop = False
                        if config.eval_every and evaluate and self.step % config.eval_every == 0:
                            stop = self._evaluate(evaluate)
                        if stop or self.step % config.save_every == 0 or self.step >= config.max_steps:
                            self.save_checkpoint()
                        if stop:
                            self.log(f"early stop at step {self.step}: {config.metric} has not improved in "
                                     f"{config.patience} evaluations (best {self.best:.4f})")
                            self.stopped_early = True
                        if stop or self.step >= config.max_steps:
                            break
                    else:
                        continue
                    break
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
        return TrainResult(self.step, self.stopped_early, start_step, time.perf_counter() - start, self.tokens,
                           last_loss, self.evaluations, self.evaluation_seconds)

    def _fgm_step(self, batch: dict) -> None:
        """FGM (对抗训练浅谈, kexue.fm/archives/7234): move the embedding matrix by epsilon along its
        gradient's direction, add the gradient of the loss there, and move it back."""
        import torch

        embedding = self.model.get_input_embeddings().weight
        if embedding.grad is None:
            return
        norm = embedding.grad.norm()
        if not torch.isfinite(norm) or float(norm) == 0.0:
            return
        delta = self.config.epsilon * embedding.grad / norm
        embedding.data.add_(delta)
        with self.setup.autocast():
            adversarial_loss = self.loss_fn(self.model, batch)
        self.scaler.scale(adversarial_loss).backward()
        embedding.data.sub_(delta)

    def _evaluate(self, evaluate: Callable[[object], dict]) -> bool:
        """Evaluate; with a metric, export the model when it is the best so far. Returns whether
        training should stop early."""
        import torch

        started = time.perf_counter()
        self.model.eval()
        with torch.no_grad(), self.setup.autocast():
            result = {"step": self.step, **evaluate(self.model)}
        self.model.train()
        self.evaluations.append(result)
        metric = self.config.metric
        if metric:
            if metric not in result:
                raise KeyError(f"evaluate() gave no {metric!r}")
            if self.best is None or result[metric] > self.best:
                self.best, self.evaluations_since_best = float(result[metric]), 0
                self.export(self.model, self.output_dir)
                result["best"] = True
            else:
                self.evaluations_since_best += 1
        shown = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) and not math.isnan(v) else f"{k} {v}"
                          for k, v in result.items())
        self.log(f"evaluation: {shown}")
        self.evaluation_seconds += time.perf_counter() - started
        return bool(metric and self.config.patience and self.evaluations_since_best >= self.config.patience)
