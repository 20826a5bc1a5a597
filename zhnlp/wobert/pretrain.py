"""WoBERT pre-training: whole-word masked language modelling on a raw corpus, resumable.

Lines are streamed from the corpus, tokenized with the WoBERT tokenizer, and packed into
sequences of up to ``seq_len`` tokens ([CLS] line line ... [SEP]). Masking is by jieba word
(whole-word masking): words are drawn until about ``mask_prob`` of the tokens are covered; a
drawn word's tokens all become [MASK] (80%), random tokens (10%) or stay (10%), and only they
are predicted. An unknown word that fell back to characters is masked as a whole too.

Every ``heldout_every``-th non-empty line is never trained on: ``evaluate_mlm`` scores the
model's masked-token accuracy on exactly those lines.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError
from .config import PretrainConfig
from .tokenizer import WoBertTokenizer

IGNORE_INDEX = -100  # label of positions the loss skips


def is_heldout(line_index: int, every: int) -> bool:
    return every > 0 and line_index % every == every - 1


def mask_whole_words(ids: np.ndarray, word_ids: np.ndarray, rng: np.random.Generator, mask_prob: float,
                     mask_id: int, vocab_size: int, first_regular_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) for one sequence. ``word_ids``: the word of each token, -1 for special
    tokens (never masked)."""
    inputs = ids.copy()
    labels = np.full_like(ids, IGNORE_INDEX)
    words = np.unique(word_ids[word_ids >= 0])
    if len(words) == 0:
        return inputs, labels
    budget = max(1, int(round(mask_prob * int((word_ids >= 0).sum()))))
    covered = 0
    for word in rng.permutation(words):
        if covered >= budget:
            break
        positions = np.flatnonzero(word_ids == word)
        if covered + len(positions) > budget + 2:  # a long word would overshoot: try a shorter one
            continue
        covered += len(positions)
        labels[positions] = ids[positions]
        choice = rng.random()
        if choice < 0.8:
            inputs[positions] = mask_id
        elif choice < 0.9:
            inputs[positions] = rng.integers(first_regular_id, vocab_size, size=len(positions))
    return inputs, labels


class MaskedLmBatches:
    """Packed, whole-word-masked batches from a corpus stream, resumable by line position.

    The corpus is streamed (it may not fit in memory): lines are packed into sequences of up to
    ``seq_len`` tokens, read a pool of POOL_BATCHES batches at a time, and the shared batcher
    (training.batching.LengthBucketedBatches) plans each pool's batches: shuffled within the pool
    for training, in order for the held-out lines. The state is the epoch, the first line of the
    current pool and the batches of it already given; the masks are drawn from those, so a resumed
    run sees exactly the batches it would have seen."""

    POOL_BATCHES = 32  # batches read ahead and shuffled together: neighbouring lines spread over 32 steps

    def __init__(self, inputs, tokenizer: WoBertTokenizer, config: PretrainConfig, seed: int = 0,
                 heldout: bool = False, max_lines: int | None = None):
        from ..textio import resolve_sources

        if tokenizer.mask_token_id is None:
            raise InputError("the vocabulary has no [MASK] token", "give a BERT or WoBERT vocab.txt")
        self.sources = resolve_sources(inputs)
        self.tokenizer = tokenizer
        self.config = config
        self.seed = seed
        self.heldout = heldout  # True: only the held-out lines (evaluation), in one pass
        self.max_lines = max_lines
        self.epoch = 0
        self.next_line = 0  # the first line of the current pool
        self.position = 0  # batches of the current pool already given
        self.first_regular_id = max(tokenizer.all_special_ids) + 1

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "next_line": self.next_line, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.next_line = int(state["next_line"])
        self.position = int(state.get("position", 0))

    def _lines(self) -> Iterator[tuple[int, str]]:
        """(index among non-empty lines, line) of the lines this source uses, from next_line."""
        from ..textio import iter_lines

        index = -1
        for line in iter_lines(self.sources, self.config.encoding):
            if not line.strip():
                continue
            index += 1
            if index < self.next_line or is_heldout(index, self.config.heldout_every) != self.heldout:
                continue
            yield index, line

    def _sequences(self) -> Iterator[tuple[int, list[int], list[int]]]:
        """(index of the next line after it, ids, word ids) of packed sequences."""
        capacity = self.config.seq_len - 2
        ids: list[int] = []
        words: list[int] = []
        word_base = 0
        used = 0
        for index, line in self._lines():
            if self.max_lines is not None and used >= self.max_lines:
                break
            used += 1
            line_ids, _, line_words = self.tokenizer.encode_words(line, offsets=False)
            if not line_ids:
                continue
            line_ids, line_words = line_ids[:capacity], line_words[:capacity]
            if ids and len(ids) + len(line_ids) > capacity:
                yield index, ids, words
                ids, words = [], []
            ids += line_ids
            words += [word_base + w for w in line_words]
            word_base += line_words[-1] + 1
            last_index = index
        if ids:
            yield last_index + 1, ids, words

    def __iter__(self) -> Iterator[dict]:
        import torch

        from ..training.batching import LengthBucketedBatches

        sequences = self._sequences()  # from next_line, the first line of a pool
        pool_size = self.config.batch_size * self.POOL_BATCHES
        made_any = False
        while True:
            pool: list[tuple[list[int], list[int]]] = []
            pool_end = self.next_line
            for next_line, ids, words in sequences:
                pool.append((ids, words))
                pool_end = next_line
                if len(pool) == pool_size:
                    break
            if not pool:
                break
            start = self.next_line
            planner = LengthBucketedBatches([len(ids) for ids, _ in pool], lambda rows: rows, self.config.batch_size,
                                            seed=(self.seed << 40) + start, shuffle=not self.heldout,
                                            pool_batches=self.POOL_BATCHES)
            plan = planner.plan(self.epoch)
            while self.position < len(plan):
                rows = plan[self.position]
                rng = np.random.default_rng([self.seed, self.epoch, start, self.position])
                batch = self._collate([pool[i] for i in rows], rng)
                self.position += 1
                made_any = True
                yield {k: torch.from_numpy(v) for k, v in batch.items()}
            self.next_line, self.position = pool_end, 0
        if not made_any and self.next_line == 0:
            raise InputError("the corpus has no text to train on" if not self.heldout else
                             "the corpus has no held-out lines",
                             "give a larger corpus" + ("" if not self.heldout else " or a smaller --heldout-every"))
        if not self.heldout:  # the next pass starts a new epoch from the first line
            self.epoch += 1
        self.next_line = self.position = 0

    def _collate(self, sequences, rng: np.random.Generator) -> dict[str, np.ndarray]:
        tok = self.tokenizer
        width = max(len(ids) for ids, _ in sequences) + 2
        input_ids = np.full((len(sequences), width), tok.pad_token_id, dtype=np.int64)  # (B, T)
        labels = np.full((len(sequences), width), IGNORE_INDEX, dtype=np.int64)  # (B, T)
        attention = np.zeros((len(sequences), width), dtype=np.int64)  # (B, T)
        for row, (ids, words) in enumerate(sequences):
            full = np.array([tok.cls_token_id, *ids, tok.sep_token_id], dtype=np.int64)
            word_ids = np.array([-1, *words, -1], dtype=np.int64)
            inputs, target = mask_whole_words(full, word_ids, rng, self.config.mask_prob, tok.mask_token_id,
                                              tok.vocab_size, self.first_regular_id)
            input_ids[row, :len(full)] = inputs
            labels[row, :len(full)] = target
            attention[row, :len(full)] = 1
        return {"input_ids": input_ids, "attention_mask": attention,
                "token_type_ids": np.zeros_like(input_ids), "labels": labels}


def pretrain(inputs, output_dir: str | os.PathLike, model: str | os.PathLike | None = None,
             size: str | None = None, vocab: str | os.PathLike | None = None,
             config: PretrainConfig | None = None, trainer_config=None, restart: bool = False,
             force: bool = False, show_progress: bool = True) -> dict:
    """Pre-train (or continue pre-training) a WoBERT with whole-word MLM; returns a summary.

    Start from ``model`` (a WoBERT folder, e.g. made by ``init_from_char_bert``), or from scratch
    with ``size`` (tiny/small/base) and ``vocab``. Run again with the same ``output_dir`` to resume
    from its last checkpoint; ``restart`` ignores it.
    """
    import shutil

    from ..optional import require

    require("torch", "zhnlp wobert pretrain")
    require("transformers", "zhnlp wobert pretrain")
    from ..training import Trainer, TrainerConfig
    from ..training.trainer import CHECKPOINT_DIR
    from .model import load_wobert, new_config, save_wobert

    config = config or PretrainConfig()
    trainer_config = trainer_config or TrainerConfig()
    output_dir = Path(output_dir)
    checkpoint = output_dir / CHECKPOINT_DIR
    if restart:
        shutil.rmtree(checkpoint, ignore_errors=True)
    resuming = (checkpoint / "state.json").is_file()
    if not resuming:
        from ..outputs import check_output_folder

        check_output_folder(output_dir, force, training=True)
    if model is not None and size is not None:
        raise InputError(f"--model {model} and --config {size} were both given: start from a model, or from scratch",
                         "drop --config to continue pre-training the model, or drop --model to start from scratch")
    if model is None and size is None:
        raise InputError("nothing to start from: give a model or a size",
                         "add --model DIR (a WoBERT from zhnlp wobert init), or --config tiny|small|base with --vocab FILE")
    from ..training import seed_everything

    seed_everything(trainer_config.seed)  # before the model is made, so its initial weights follow the seed
    if model is not None:
        network, tokenizer = load_wobert(model)
    else:
        if vocab is None:
            raise InputError("--config needs a vocabulary", "add --vocab vocab.txt (make one: zhnlp wobert build-vocab)")
        tokenizer = WoBertTokenizer.from_pretrained(vocab)
        from transformers import BertForMaskedLM

        from .model import _quiet_transformers

        _quiet_transformers()
        network = BertForMaskedLM(new_config(tokenizer.vocab_size, size, pad_token_id=tokenizer.pad_token_id))
    if config.seq_len > network.config.max_position_embeddings:
        raise InputError(f"--seq-len {config.seq_len} is longer than the model's "
                         f"{network.config.max_position_embeddings} positions",
                         f"use --seq-len {network.config.max_position_embeddings} or less")

    batches = MaskedLmBatches(inputs, tokenizer, config, seed=trainer_config.seed)
    heldout = MaskedLmBatches(inputs, tokenizer, config, seed=trainer_config.seed + 1, heldout=True,
                              max_lines=config.eval_lines)

    def evaluate(trained) -> dict:
        return masked_lm_scores(trained, heldout)

    from dataclasses import asdict

    trainer = Trainer(network, trainer_config, output_dir, export=lambda m, d: save_wobert(m, tokenizer, d),
                      show_progress=show_progress,
                      record={"pretrain": asdict(config), "heldout_seed": trainer_config.seed + 1})
    result = trainer.train(batches, evaluate=evaluate if config.eval_lines > 0 else None)
    final = result.evaluations[-1] if result.evaluations else {}
    return {"output": str(output_dir), "steps": result.step, "resumed_from": result.resumed_from,
            "seconds": round(result.seconds, 1), "tokens": result.tokens, "last_loss": result.last_loss,
            "heldout": {k: v for k, v in final.items() if k != "step"}, "device": trainer.setup.description,
            "parameters": sum(p.numel() for p in network.parameters())}


def masked_lm_scores(model, batches: "MaskedLmBatches") -> dict:
    """Masked-token accuracy and mean loss of ``model`` over ``batches`` (run once, in order)."""
    import torch

    device = next(model.parameters()).device
    correct = total = 0
    loss_sum = 0.0
    batches.next_line, batches.epoch = 0, 0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits  # (B, T, V)
        chosen = labels != IGNORE_INDEX
        if not chosen.any():
            continue
        picked = logits[chosen].float()  # (N, V)
        loss_sum += float(torch.nn.functional.cross_entropy(picked, labels[chosen], reduction="sum"))
        correct += int((picked.argmax(-1) == labels[chosen]).sum())
        total += int(chosen.sum())
    return {"mlm_accuracy": correct / total if total else float("nan"),
            "mlm_loss": loss_sum / total if total else float("nan"), "masked_tokens": total}


def pretraining_record(model: str | os.PathLike) -> dict:
    """The training.json ``pretrain`` wrote into a model folder ({} when there is none)."""
    import json

    from ..training.trainer import TRAINING_FILE

    path = Path(model) / TRAINING_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    known = PretrainConfig.__dataclass_fields__
    if isinstance(record.get("pretrain"), dict):
        record["pretrain"] = {k: v for k, v in record["pretrain"].items() if k in known}
    return record


def evaluate_mlm(model: str | os.PathLike, inputs, config: PretrainConfig | None = None, device: str = "auto",
                 seed: int | None = None) -> dict:
    """Masked-token accuracy on the held-out lines of a corpus (the lines ``pretrain`` skipped
    with the same ``heldout_every``), masked with a fixed seed. ``config`` and ``seed`` default to
    what ``pretrain`` recorded in the folder's training.json (so that the figure is the one it
    printed), else to PretrainConfig's defaults and seed 1."""
    from ..optional import require

    torch = require("torch", "zhnlp wobert evaluate")

    from ..training import resolve_device
    from .model import load_wobert

    recorded = pretraining_record(model)
    config = config or PretrainConfig(**recorded.get("pretrain", {}))
    seed = seed if seed is not None else int(recorded.get("heldout_seed", 1))
    network, tokenizer = load_wobert(model)
    setup = resolve_device(device)
    network.to(setup.device).eval()
    batches = MaskedLmBatches(inputs, tokenizer, config, seed=seed, heldout=True, max_lines=config.eval_lines)
    with torch.no_grad(), setup.autocast():
        scores = masked_lm_scores(network, batches)
    return {**scores, "device": setup.description, "heldout_every": config.heldout_every}
