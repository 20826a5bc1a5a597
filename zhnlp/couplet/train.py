"""Training and evaluating the couplet model on the shared training stack.

``train_couplet`` evaluates on dev after every epoch (the plain argmax decoder's character accuracy
and loss, and the constrained decoder's BLEU and character accuracy), keeps the model with the best
``metric`` (default: the constrained decoder's BLEU, the figure `zhnlp couplet` is judged by) and
stops after ``patience`` epochs without improvement. ``evaluate_couplet`` scores plain and constrained decoding side by side: BLEU
(sacrebleu, tokenize='zh', 0-100), character accuracy, exact match and rule-violation rate.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .data import CoupletBatches, build_vocab, read_pairs
from .defaults import CONTEXT_LR_SCALE, COUPLET_TRAINING, DEFAULT_SHORTLIST_SIZE, MODEL_FLAGS
from .folder import VOCAB_FILE, CoupletConfig
from .shortlist import SHORTLIST_FILE, build_shortlist, load_shortlist, save_shortlist


def _dev_scores(model, batches: CoupletBatches, pairs: list[tuple[str, str]], shortlist) -> dict:
    """Dev character accuracy and loss of the plain decoder (upper character forbidden), and BLEU and
    character accuracy of the constrained decoder (what `zhnlp couplet` answers), on ``pairs``."""
    from .couplet import Couplet

    scores = _argmax_char_accuracy(model, batches)
    uppers = [u for u, _ in pairs]
    answers = Couplet(model, model.vocab, device=str(next(model.parameters()).device), shortlist=shortlist)(uppers)
    constrained = score_lines(uppers, answers, [w for _, w in pairs])
    return {**scores, "bleu": constrained["bleu"], "constrained_char_accuracy": constrained["char_accuracy"]}


def _argmax_char_accuracy(model, batches: CoupletBatches) -> dict:
    """Dev character accuracy and loss of the plain decoder (upper character forbidden)."""
    device = next(model.parameters()).device
    correct = total = 0
    loss_sum = 0.0
    batches.epoch, batches.position = 0, 0
    for batch in batches:
        ids, labels = batch["input_ids"].to(device), batch["labels"].to(device)
        contexts = batch.get("context_ids")
        logits, loss = model(ids, labels, None if contexts is None else contexts.to(device))
        logits = logits.float().scatter(-1, ids.unsqueeze(-1), float("-inf"))  # (B, T, V)
        logits[..., :2] = float("-inf")  # never [PAD] or [UNK]
        correct += int((logits.argmax(-1) == labels).sum())
        total += labels.numel()
        loss_sum += float(loss) * labels.numel()
    return {"char_accuracy": correct / total, "loss": loss_sum / total}


def train_couplet(data_dir: str | os.PathLike, output_dir: str | os.PathLike,
                  config: CoupletConfig | dict | None = None, trainer_config=None, batch_size: int = 64,
                  epochs: int = 20, restart: bool = False, force: bool = False, show_progress: bool = True,
                  both_directions: bool = False, shortlist_size: int = DEFAULT_SHORTLIST_SIZE,
                  context_lr_scale: float = CONTEXT_LR_SCALE, init_from: str | os.PathLike | None = None) -> dict:
    """Train a couplet model on ``data_dir`` (train/ and dev/); resumable in ``output_dir``.

    ``config``: the model's shape, a CoupletConfig or a dict of the fields to set (the rest: the
    defaults). Resuming takes the shape from the checkpoint; a field given here that differs from it
    is an InputError. ``trainer_config``: default ``couplet_trainer_config()``. ``both_directions``:
    also learn each pair reversed (lower line in, upper line out), twice the pairs; the
    correspondence of characters goes both ways. ``shortlist_size``: lower characters per upper
    character the decoder scores (shortlist.py; 0: none, the whole vocabulary). ``context_lr_scale``:
    the hashed context table's learning rate as a multiple of the rest's (a row learns only on the
    steps that see its context, a few times an epoch); no weight decay on it. ``init_from``: a couplet
    model folder to start from (a fresh run only): its vocabulary, its CNN's shape and weights; the
    context table, when the folder has none, starts with no effect (its output projection at zero),
    so that training begins at the folder's model."""
    from dataclasses import asdict

    from ..optional import require

    require("torch", "zhnlp train couplet")
    from ..outputs import write_text
    from ..training import Trainer, epoch_schedule, resume_model_config, seed_everything, start_run
    from .model import CoupletModel

    output_dir = Path(output_dir)
    resuming = start_run(output_dir, restart, force)
    given = asdict(config) if isinstance(config, CoupletConfig) else dict(config or {})
    given.pop("vocab_size", None)
    given.pop("model_type", None)
    saved = resume_model_config(output_dir, given, MODEL_FLAGS)
    start = _initial_model(init_from, given) if init_from is not None and saved is None else None
    config = CoupletConfig.from_dict(saved if saved is not None else start[0] if start else given)
    train_pairs, dev_pairs = read_pairs(data_dir, "train"), read_pairs(data_dir, "dev")
    if both_directions:
        train_pairs += [(lower, upper) for upper, lower in train_pairs]
    trainer_config = trainer_config or couplet_trainer_config()
    if trainer_config.metric and trainer_config.metric not in DEV_METRICS:  # "": keep the last
        raise InputError(f"unknown couplet metric {trainer_config.metric!r}", f"use one of: {', '.join(DEV_METRICS)}")
    vocab_file = output_dir / VOCAB_FILE  # written first, so that a resumed run uses the same ids
    if resuming and vocab_file.is_file():
        vocab = vocab_file.read_text(encoding="utf-8").split("\n")[:-1]
    elif start:
        vocab = start[1]
        output_dir.mkdir(parents=True, exist_ok=True)
        write_text(vocab_file, "\n".join(vocab) + "\n")
    else:
        vocab = build_vocab(train_pairs)
        output_dir.mkdir(parents=True, exist_ok=True)
        write_text(vocab_file, "\n".join(vocab) + "\n")
    config.vocab_size = len(vocab)
    if shortlist_size and not (resuming and (output_dir / SHORTLIST_FILE).is_file()):  # a finished run gets one too
        save_shortlist(output_dir, build_shortlist(train_pairs, vocab, shortlist_size))
    shortlist = load_shortlist(output_dir, vocab) if shortlist_size else None
    seed_everything(trainer_config.seed)
    model = CoupletModel(config, vocab)
    if start:
        _load_initial_weights(model, start[2])
    contexts = (config.context_windows, config.context_buckets) if config.context_buckets else None
    batches = CoupletBatches(train_pairs, vocab, batch_size, config.max_length, seed=trainer_config.seed,
                             contexts=contexts)
    dev = CoupletBatches(dev_pairs, vocab, 256, config.max_length, shuffle=False, contexts=contexts)
    epoch_schedule(trainer_config, len(batches), epochs)

    def export(trained, directory):
        trained.save_pretrained(directory, vocab, training={**asdict(trainer_config), "batch_size": batch_size,
                                                            "both_directions": both_directions,
                                                            "context_lr_scale": context_lr_scale,
                                                            "init_from": None if init_from is None else str(init_from)})

    trainer = Trainer(model, trainer_config, output_dir, export=export, model_config=asdict(config),
                      loss_fn=lambda m, b: m(b["input_ids"], b["labels"], b.get("context_ids"))[1],
                      show_progress=show_progress,
                      parameter_groups=_parameter_groups(model, trainer_config, context_lr_scale))
    dev_lines = [(u, w) for u, w in dev_pairs if len(u) <= config.max_length]
    result = trainer.train(batches, evaluate=lambda m: _dev_scores(m, dev, dev_lines, shortlist))
    return {"output": str(output_dir), "steps": result.step, "epochs": result.step / len(batches),
            "stopped_early": result.stopped_early, "seconds": round(result.seconds, 1),
            "examples_per_second": round(batches.batch_size * (result.step - result.resumed_from) /
                                         max(result.training_seconds, 1e-9), 1),
            f"best_dev_{trainer_config.metric}": trainer.best, "device": trainer.setup.description,
            "skipped_long_pairs": batches.skipped, "parameters": sum(p.numel() for p in model.parameters())}


DEV_METRICS = ("bleu", "constrained_char_accuracy", "char_accuracy", "loss")  # what _dev_scores gives
SHAPE_FIELDS = ("embedding_dim", "dilations", "kernel_size", "max_length")  # what an init folder fixes


def _initial_model(init_from, given: dict) -> tuple[dict, list[str], dict]:
    """(config fields, vocabulary, weights) of the folder a fresh run starts from; a shape field given
    that differs from the folder's is an InputError naming its flag."""
    from dataclasses import asdict

    from ..training import config_conflicts
    from .folder import load_weights, read_folder, resolve_folder

    directory = resolve_folder(init_from)
    init_config, vocab = read_folder(directory)
    fields = asdict(init_config)
    conflicts = config_conflicts({k: given.get(k) for k in SHAPE_FIELDS}, fields, MODEL_FLAGS, "the folder")
    if conflicts:
        raise InputError(f"{'; '.join(conflicts)}: --init {directory} fixes the CNN's shape",
                         "leave those options out, or train from scratch without --init")
    fields.update({k: v for k, v in given.items() if v is not None and k not in SHAPE_FIELDS})
    fields.pop("vocab_size", None)
    return fields, vocab, load_weights(directory, init_config)


def _load_initial_weights(model, weights: dict) -> None:
    """The init folder's weights into ``model``; its context table too when it has one of the same
    shape, else the new table's projections start at zero (the model starts as the folder's)."""
    import torch

    from ..training import load_matching_weights

    left = load_matching_weights(model, weights)
    if model.config.context_buckets and "context_embedding.weight" in left:
        with torch.no_grad():
            for name in ("context_output", "context_input"):
                if hasattr(model, name):
                    getattr(model, name).weight.zero_()


def _parameter_groups(model, trainer_config, context_lr_scale: float) -> list[dict]:
    """Decay on matrices only (the trainer's default); the context table, when there is one, in a
    group of its own at ``context_lr_scale`` times the learning rate, without decay."""
    from ..training import decay_groups

    table = model.context_embedding.weight if model.config.context_buckets else None
    groups = decay_groups([(n, p) for n, p in model.named_parameters() if p is not table], trainer_config.weight_decay)
    if table is not None:
        groups.append({"params": [table], "weight_decay": 0.0, "lr": trainer_config.lr * context_lr_scale})
    return groups


def couplet_trainer_config(**overrides):
    """The couplet recipe's TrainerConfig (defaults.COUPLET_TRAINING), with ``overrides``."""
    from ..training import TrainerConfig

    return TrainerConfig(**{**COUPLET_TRAINING, **{k: v for k, v in overrides.items() if v is not None}})


def score_lines(uppers: list[str], predictions: list[str], references: list[str]) -> dict:
    """BLEU (sacrebleu, tokenize='zh'), character accuracy, exact match, rule-violation rate."""
    import sacrebleu

    from .decode import rule_violations

    positions = sum(len(r) for r in references)
    same = sum(sum(a == b for a, b in zip(p, r)) for p, r in zip(predictions, references))
    return {"bleu": round(sacrebleu.corpus_bleu(predictions, [references], tokenize="zh").score, 2),
            "char_accuracy": round(same / positions, 4),
            "exact_match": round(sum(p == r for p, r in zip(predictions, references)) / len(references), 4),
            "rule_violation_rate": round(sum(bool(rule_violations(u, p)) for u, p in zip(uppers, predictions))
                                         / len(uppers), 4)}


def evaluate_couplet(model_dir: str | os.PathLike | None, data_dir: str | os.PathLike, split: str = "dev",
                     device: str = "auto", tone: bool = False, limit: int | None = None,
                     shortlist: bool = True, memory: bool = True) -> dict:
    """Plain argmax and constrained decoding on a split (its first ``limit`` pairs), side by side.
    ``shortlist``: the constrained decoder scores the model folder's shortlist only (when it has one);
    ``memory``: it uses the folder's memory of training pairs (when it has one; "memory" in the
    result says whether it did). The plain decoder is the post's: the CNN alone."""
    from .couplet import Couplet

    bot = Couplet.from_pretrained(model_dir, device=device, shortlist=shortlist, memory=memory)
    pairs = [(u, w) for u, w in read_pairs(data_dir, split)[:limit] if len(u) <= bot.max_length]
    if not pairs:
        raise InputError(f"no pairs in {data_dir}/{split}", "check the data folder")
    uppers, references = [u for u, _ in pairs], [w for _, w in pairs]
    plain = bot(uppers, constrained=False)
    constrained = bot(uppers, constrained=True, tone=tone)
    return {"argmax": score_lines(uppers, plain, references),
            "constrained": score_lines(uppers, constrained, references), "n": len(pairs),
            "memory": bot.memory is not None}


__all__ = ["couplet_trainer_config", "evaluate_couplet", "score_lines", "train_couplet"]
