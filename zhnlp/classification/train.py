"""Training and scoring a sentence classifier: transformers' ``BertForSequenceClassification`` on
any BERT-architecture folder or hub id (a char BERT, a WoBERT, or a classifier to train further), or
a small BERT from scratch on the training data's characters, on the shared training stack (resume,
mixed precision on CUDA, FGM, EMA, early stopping on dev accuracy).

The saved folder is an ordinary transformers folder (``BertForSequenceClassification.from_pretrained
(folder)`` loads it, ``id2label`` holding the training file's labels) with ``zhnlp_task:
"classifier"`` in its config.json, which makes it a ``classifier`` to zhnlp's resolver.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import InputError
from .data import Dataset, Example, load_dataset

TASK = "classifier"
# fine-tuning a pre-trained encoder: BERT's own recipe (2e-5, a few epochs), as Su's Theseus code
# (max_steps 0: the run's length is its epochs, SCRATCH_EPOCHS or FINE_TUNING_EPOCHS unless --epochs)
FINE_TUNING = dict(max_steps=0, lr=2e-5, warmup_steps=100, weight_decay=0.01, metric="accuracy", patience=2, save_every=500)
# from scratch the encoder must learn everything from this task alone: a larger rate, more epochs
FROM_SCRATCH = dict(FINE_TUNING, lr=5e-4, warmup_steps=300)
SCRATCH_EPOCHS, FINE_TUNING_EPOCHS = 5, 3
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def char_vocab(texts, min_count: int = 2) -> list[str]:
    """BERT's special tokens, then the (lowercased) characters seen ``min_count`` times, commonest first."""
    counts = Counter(ch for text in texts for ch in text.lower() if not ch.isspace())
    return SPECIAL_TOKENS + [ch for ch, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]


def _scratch(vocab: list[str], folder: Path, num_labels: int, size: str):
    from transformers import BertForSequenceClassification, BertTokenizerFast

    from ..outputs import write_text
    from ..wobert.model import _quiet_transformers, new_config

    _quiet_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "vocab.txt", "\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True)
    config = new_config(len(vocab), size)
    config.num_labels = num_labels
    return BertForSequenceClassification(config), tokenizer


def _pretrained(model: str | os.PathLike, labels: list[str]):
    """(network, tokenizer, labels) for fine-tuning ``model``. A classifier trained further on the
    same labels keeps its head and its label order; on other labels it gets a new head."""
    from transformers import BertConfig, BertForSequenceClassification

    from ..hub import model_type_of, resolve_model
    from ..wobert.model import _quiet_transformers, load_tokenizer

    folder = resolve_model(model, required=("config.json",), weights=True, what="BERT model",
                           expected=("bert", "wobert", TASK), example="bert-base-chinese")
    _quiet_transformers()
    if model_type_of(folder) == TASK:
        config = BertConfig.from_pretrained(folder)
        own = [config.id2label[i] for i in range(config.num_labels)]
        if set(own) == set(labels):
            return BertForSequenceClassification.from_pretrained(folder), load_tokenizer(folder), own
        network = BertForSequenceClassification.from_pretrained(folder, num_labels=len(labels),
                                                                ignore_mismatched_sizes=True)
    else:
        network = BertForSequenceClassification.from_pretrained(folder, num_labels=len(labels))
    return network, load_tokenizer(folder), labels


def classification_batches(examples: list[Example], tokenizer, labels: list[str], batch_size: int,
                           max_length: int, seed: int = 0, shuffle: bool = True):
    """Resumable length-bucketed batches of input_ids, attention_mask, token_type_ids and labels."""
    import torch

    from ..training import LengthBucketedBatches

    index = {label: i for i, label in enumerate(labels)}
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)["input_ids"]
    targets = np.array([index[e.label] for e in examples], dtype=np.int64)
    pad = tokenizer.pad_token_id or 0

    def collate(indices):
        longest = max(len(encoded[i]) for i in indices)
        ids = torch.full((len(indices), longest), pad, dtype=torch.long)
        for row, i in enumerate(indices):
            ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
        return {"input_ids": ids, "attention_mask": (ids != pad).long(), "token_type_ids": torch.zeros_like(ids),
                "labels": torch.from_numpy(targets[np.asarray(indices)])}

    return LengthBucketedBatches(np.array([len(ids) for ids in encoded]), collate, batch_size, seed=seed,
                                 shuffle=shuffle)


def accuracy_and_macro_f1(predicted: list[str], gold: list[str]) -> dict:
    """Accuracy and macro-F1: the mean of each label's F1 over the labels of the gold data and the
    predictions together (scikit-learn's f1_score(average="macro"))."""
    if len(predicted) != len(gold):
        raise ValueError("predictions and gold labels differ in number")
    labels = sorted(set(gold) | set(predicted))
    f1s = []
    for label in labels:
        tp = sum(p == g == label for p, g in zip(predicted, gold))
        predicted_n, gold_n = predicted.count(label), gold.count(label)
        f1s.append(2 * tp / (predicted_n + gold_n) if predicted_n + gold_n else 0.0)
    correct = sum(p == g for p, g in zip(predicted, gold))
    return {"accuracy": correct / max(len(gold), 1), "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
            "examples": len(gold)}


def train_classifier(data: str | os.PathLike, output_dir: str | os.PathLike, model: str | os.PathLike | None = None,
                     dev: str | os.PathLike | None = None, labels: str | os.PathLike | None = None,
                     dev_fraction: float = 0.1, split_seed: int = 0, trainer_config=None, batch_size: int = 32,
                     epochs: int | None = None, max_length: int = 128, size: str = "small", restart: bool = False,
                     force: bool = False, show_progress: bool = True, encoding: str = "utf-8") -> dict:
    """Train a classifier on ``data`` (load_dataset: a CLUE folder, JSON lines or TSV); resumable in
    ``output_dir``. ``model``: a BERT/WoBERT folder or hub id to fine-tune; without it a BERT of
    ``size`` (zhnlp.wobert SIZES) is trained from scratch on the training texts' characters. Kept by
    dev accuracy; returns a summary."""
    from ..optional import require

    require("torch", "zhnlp train classifier")
    require("transformers", "zhnlp train classifier")
    from ..training import Trainer, TrainerConfig, epoch_schedule, seed_everything, start_run
    from ..wobert.model import save_wobert

    output_dir = Path(output_dir)
    dataset = load_dataset(data, dev, labels, dev_fraction, split_seed, encoding)
    resuming = start_run(output_dir, restart, force)
    trainer_config = trainer_config or TrainerConfig(**(FINE_TUNING if model is not None else FROM_SCRATCH))
    seed_everything(trainer_config.seed)
    if model is not None:
        network, tokenizer, dataset.labels = _pretrained(model, dataset.labels)
    else:
        vocab_file = output_dir / "vocab.txt"
        vocab = vocab_file.read_text(encoding="utf-8").split("\n")[:-1] if resuming and vocab_file.is_file() else \
            char_vocab(e.text for e in dataset.train)
        network, tokenizer = _scratch(vocab, output_dir, len(dataset.labels), size)
    if max_length > network.config.max_position_embeddings:
        raise InputError(f"--max-length {max_length} is longer than the model's {network.config.max_position_embeddings} "
                         "positions", f"use --max-length {network.config.max_position_embeddings} or less")
    network.config.id2label = dict(enumerate(dataset.labels))
    network.config.label2id = {label: i for i, label in enumerate(dataset.labels)}
    network.config.zhnlp_task = TASK
    network.config.label_descriptions = dataset.descriptions
    network.config.zhnlp_max_length = max_length  # (max_length is a generation setting to transformers)
    batches = classification_batches(dataset.train, tokenizer, dataset.labels, batch_size, max_length,
                                     trainer_config.seed)
    epoch_schedule(trainer_config, len(batches), epochs or (FINE_TUNING_EPOCHS if model else SCRATCH_EPOCHS),
                   evaluate=bool(dataset.dev))

    def evaluate(trained) -> dict:
        found = predict(trained, tokenizer, [e.text for e in dataset.dev], trainer.setup.device, 128, max_length)
        trained.train()
        scores = accuracy_and_macro_f1([dataset.labels[i] for i, _ in found], [e.label for e in dataset.dev])
        return {"accuracy": round(scores["accuracy"], 4), "macro_f1": round(scores["macro_f1"], 4)}

    trainer = Trainer(network, trainer_config, output_dir, export=lambda m, d: save_wobert(m, tokenizer, d),
                      loss_fn=lambda m, b: m(**b).loss, show_progress=show_progress,
                      record={"data": str(data), "dev": dataset.dev_source, "batch_size": batch_size,
                              "max_length": max_length, "from": str(model) if model else f"scratch ({size})"})
    result = trainer.train(batches, evaluate=evaluate if dataset.dev else None)
    return {"output": str(output_dir), "steps": result.step, "epochs": round(result.step / len(batches), 2),
            "stopped_early": result.stopped_early, "seconds": round(result.seconds, 1),
            "examples_per_second": round(batch_size * (result.step - result.resumed_from) /
                                         max(result.training_seconds, 1e-9), 1),
            "best_dev_accuracy": trainer.best, "device": trainer.setup.description, "labels": len(dataset.labels),
            "train_examples": len(dataset.train), "dev_examples": len(dataset.dev), "dev": dataset.dev_source,
            "parameters": sum(p.numel() for p in network.parameters())}


def predict(network, tokenizer, texts: list[str], device, batch_size: int = 64, max_length: int = 128,
            precision: str = "fp32") -> list[tuple[int, float]]:
    """(class index, probability) per text, in the texts' order; batches sorted by length."""
    import torch

    network.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    found: list[tuple[int, float]] = [(0, 0.0)] * len(texts)
    with torch.no_grad():
        for first in range(0, len(order), batch_size):
            chosen = order[first:first + batch_size]
            batch = tokenizer([texts[i] for i in chosen], truncation=True, max_length=max_length, padding=True,
                              return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
            probs = torch.softmax(network(**batch).logits.float(), dim=-1)  # (B, labels)
            best = probs.max(-1)
            for i, label, p in zip(chosen, best.indices.tolist(), best.values.tolist()):
                found[i] = (label, p)
    return found


def dataset_of(path: str | os.PathLike, encoding: str = "utf-8") -> Dataset:
    """Examples to score: a file, or a folder's dev.json (else its train.json), all of them."""
    from .data import read_examples

    path = Path(path)
    if path.is_dir():
        path = next((path / n for n in ("dev.json", "dev.tsv", "train.json", "train.tsv") if (path / n).is_file()), path)
    examples, descriptions = read_examples(path, encoding)
    return Dataset([], examples, sorted({e.label for e in examples}), descriptions, str(path))

