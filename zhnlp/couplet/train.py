"""Training and evaluating the couplet model on the shared training stack.

``train_couplet`` evaluates on dev after every epoch, keeps the model with the best dev character
accuracy (plain argmax; the cheap and stable signal) and stops after ``patience`` epochs without
improvement. ``evaluate_couplet`` scores plain and constrained decoding side by side: BLEU
(sacrebleu, tokenize='zh', 0-100), character accuracy, exact match and rule-violation rate.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError, OutputError
from .data import CoupletBatches, build_vocab, encode, read_pairs
from .folder import UNK, CoupletConfig
from .shortlist import DEFAULT_SHORTLIST_SIZE, SHORTLIST_FILE, build_shortlist, save_shortlist


def _argmax_char_accuracy(model, batches: CoupletBatches) -> dict:
    """Dev character accuracy and loss of the plain decoder (upper character forbidden)."""
    device = next(model.parameters()).device
    correct = total = 0
    loss_sum = 0.0
    batches.epoch, batches.position = 0, 0
    for batch in batches:
        ids, labels = batch["input_ids"].to(device), batch["labels"].to(device)
        logits, loss = model(ids, labels)
        logits = logits.float().scatter(-1, ids.unsqueeze(-1), float("-inf"))  # (B, T, V)
        logits[..., :2] = float("-inf")  # never [PAD] or [UNK]
        correct += int((logits.argmax(-1) == labels).sum())
        total += labels.numel()
        loss_sum += float(loss) * labels.numel()
    return {"char_accuracy": correct / total, "loss": loss_sum / total}


def train_couplet(data_dir: str | os.PathLike, output_dir: str | os.PathLike, config: CoupletConfig | None = None,
                  trainer_config=None, batch_size: int = 64, epochs: int = 20, restart: bool = False,
                  force: bool = False, show_progress: bool = True, both_directions: bool = False,
                  shortlist_size: int = DEFAULT_SHORTLIST_SIZE) -> dict:
    """Train a couplet model on ``data_dir`` (train/ and dev/); resumable in ``output_dir``.
    ``both_directions``: also learn each pair reversed (lower line in, upper line out), twice the
    pairs; the correspondence of characters goes both ways. ``shortlist_size``: lower characters
    per upper character the decoder scores (shortlist.py; 0: none, the whole vocabulary)."""
    import shutil

    from ..training import Trainer, TrainerConfig, seed_everything
    from ..training.trainer import CHECKPOINT_DIR
    from .model import CoupletModel

    output_dir = Path(output_dir)
    if restart:
        shutil.rmtree(output_dir / CHECKPOINT_DIR, ignore_errors=True)
    resuming = (output_dir / CHECKPOINT_DIR / "state.json").is_file()
    if not resuming and output_dir.exists() and any(output_dir.iterdir()) and not force:
        raise OutputError(f"output folder {output_dir} is not empty and holds no checkpoint to resume",
                          "choose a new -o folder, or add --force to train into it")
    train_pairs, dev_pairs = read_pairs(data_dir, "train"), read_pairs(data_dir, "dev")
    if both_directions:
        train_pairs += [(lower, upper) for upper, lower in train_pairs]
    config = config or CoupletConfig()
    trainer_config = trainer_config or TrainerConfig(max_steps=0, lr=2e-3, warmup_steps=200, metric="char_accuracy",
                                                     patience=3)
    vocab_file = output_dir / "vocab.txt"  # written first, so that a resumed run uses the same ids
    if resuming and vocab_file.is_file():
        vocab = vocab_file.read_text(encoding="utf-8").split("\n")[:-1]
    else:
        vocab = build_vocab(train_pairs)
        output_dir.mkdir(parents=True, exist_ok=True)
        vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config.vocab_size = len(vocab)
    if shortlist_size and not (resuming and (output_dir / SHORTLIST_FILE).is_file()):  # a finished run gets one too
        save_shortlist(output_dir, build_shortlist(train_pairs, vocab, shortlist_size))
    seed_everything(trainer_config.seed)
    model = CoupletModel(config)
    batches = CoupletBatches(train_pairs, vocab, batch_size, config.max_length, seed=trainer_config.seed)
    dev = CoupletBatches(dev_pairs, vocab, 256, config.max_length, shuffle=False)
    trainer_config.eval_every = trainer_config.eval_every or len(batches)  # once per epoch
    trainer_config.save_every = min(trainer_config.save_every, len(batches))
    if not trainer_config.max_steps:  # 0: as many steps as `epochs` epochs take
        trainer_config.max_steps = epochs * len(batches)

    def export(trained, directory):
        trained.save_pretrained(directory, vocab)

    trainer = Trainer(model, trainer_config, output_dir, export=export,
                      loss_fn=lambda m, b: m(b["input_ids"], b["labels"])[1], show_progress=show_progress)
    result = trainer.train(batches, evaluate=lambda m: _argmax_char_accuracy(m, dev))
    return {"output": str(output_dir), "steps": result.step, "epochs": result.step / len(batches),
            "stopped_early": result.stopped_early, "seconds": round(result.seconds, 1),
            "examples_per_second": round(batches.batch_size * (result.step - result.resumed_from) /
                                         max(result.training_seconds, 1e-9), 1),
            "best_dev_char_accuracy": trainer.best, "device": trainer.setup.description,
            "skipped_long_pairs": batches.skipped, "parameters": sum(p.numel() for p in model.parameters())}


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


def counting_baseline(data_dir: str | os.PathLike, split: str = "dev", limit: int | None = None) -> list[str]:
    """The calibration table of issue 5: for each upper character with two characters of context on
    each side, the most frequent lower character in train (backing off to narrower contexts), decoded
    under the same rules. Used by the benchmark only."""
    from collections import Counter, defaultdict

    from .decode import constrained_decode, never_emitted

    train = read_pairs(data_dir, "train")
    vocab = build_vocab(train)
    index = {c: i for i, c in enumerate(vocab)}
    tables = [defaultdict(Counter) for _ in range(3)]  # context widths 2, 1, 0
    for up, low in train:
        padded = "^^" + up + "$$"
        for i, target in enumerate(low):
            for width, table in zip((2, 1, 0), tables):
                table[padded[i + 2 - width:i + 3 + width]][target] += 1
    banned = never_emitted(vocab)
    out = []
    for up, _ in read_pairs(data_dir, split)[:limit]:
        padded = "^^" + up + "$$"
        scores = np.full((len(up), len(vocab)), -30.0)
        for i in range(len(up)):
            for rank, (width, table) in enumerate(zip((2, 1, 0), tables)):
                counts = table.get(padded[i + 2 - width:i + 3 + width])
                if counts:
                    total = sum(counts.values())
                    for char, count in counts.items():
                        scores[i, index[char]] = max(scores[i, index[char]], np.log(count / total) - 5 * rank)
        ids = [index.get(c, index[UNK]) for c in up]
        best = constrained_decode(up, ids, scores, vocab, banned, 1)
        out.append(best[0][0] if best else up)
    return out


__all__ = ["train_couplet", "evaluate_couplet", "score_lines", "counting_baseline", "encode"]
