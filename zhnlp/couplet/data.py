"""Couplet data: pairs of upper and lower lines, a character vocabulary, equal-length batches.

The data folder holds ``train/in.txt``, ``train/out.txt``, ``dev/in.txt``, ``dev/out.txt``: line i
of in.txt is an upper line, line i of out.txt its lower line, characters separated by spaces.
Batches hold lines of one length only (no padding inside a batch, as the post does), in an order
drawn per epoch from the seed, and can resume from any batch.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..textio import read_small_text
from ..training.batching import LengthBucketedBatches
from .folder import PAD, UNK

IGNORE_INDEX = -100


def read_pairs(data_dir: str | os.PathLike, split: str) -> list[tuple[str, str]]:
    """(upper, lower) pairs of one split, spaces removed; a pair of unequal length is an error."""
    folder = Path(data_dir) / split
    files = [folder / "in.txt", folder / "out.txt"]
    uppers, lowers = (read_small_text(path, "utf-8", (f"no {path}", f"give --data a folder with {split}/in.txt "
                                                      f"and {split}/out.txt, e.g. ../shared/data/couplet")).split("\n")
                      for path in files)  # a GBK file: an InputError naming the file and line
    if uppers and uppers[-1] == "" and lowers and lowers[-1] == "":
        uppers.pop()
        lowers.pop()
    if len(uppers) != len(lowers):
        raise InputError(f"{files[0]} has {len(uppers)} lines but {files[1]} has {len(lowers)}",
                         "line i of in.txt and out.txt must be a pair")
    pairs = []
    for number, (up, low) in enumerate(zip(uppers, lowers), 1):
        up, low = up.replace(" ", "").strip(), low.replace(" ", "").strip()
        if len(up) != len(low):
            raise InputError(f"{folder}, line {number}: upper line has {len(up)} characters, lower {len(low)}",
                             "fix or remove that pair")
        if up:
            pairs.append((up, low))
    return pairs


def build_vocab(pairs: list[tuple[str, str]], min_count: int = 1) -> list[str]:
    """[PAD], [UNK], then every character seen ``min_count`` times, most frequent first."""
    counts = Counter(c for up, low in pairs for c in up + low)
    chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
    return [PAD, UNK, *chars]


def encode(line: str, index: dict[str, int]) -> list[int]:
    unk = index[UNK]
    return [index.get(c, unk) for c in line]


class CoupletBatches(LengthBucketedBatches):
    """Batches of equal-length pairs, {"input_ids": (B, T), "labels": (B, T)}, on the shared
    resumable batcher (one length per batch: couplet lines are never padded). With ``contexts``
    (the model's context windows and buckets) also "context_ids": (B, T, F), contexts.context_ids."""

    def __init__(self, pairs: list[tuple[str, str]], vocab: list[str], batch_size: int, max_length: int,
                 seed: int = 0, shuffle: bool = True, contexts: tuple | None = None):
        self.contexts = contexts
        index = {c: i for i, c in enumerate(vocab)}
        kept = [(up, low) for up, low in pairs if len(up) <= max_length]
        self.skipped = len(pairs) - len(kept)
        if not kept:
            raise InputError("no couplet pairs to train on", "check the data folder")
        self.uppers = [np.array(encode(up, index), dtype=np.int64) for up, _ in kept]
        self.lowers = [np.array(encode(low, index), dtype=np.int64) for _, low in kept]
        super().__init__([len(up) for up, _ in kept], self._collate, batch_size, seed=seed, shuffle=shuffle,
                         exact_lengths=True)

    def _collate(self, rows: np.ndarray) -> dict:
        import torch

        uppers = np.stack([self.uppers[i] for i in rows])  # (B, T)
        batch = {"input_ids": torch.from_numpy(uppers), "labels": torch.from_numpy(np.stack([self.lowers[i] for i in rows]))}
        if self.contexts:
            from .contexts import context_ids

            batch["context_ids"] = torch.from_numpy(context_ids(uppers, *self.contexts))  # (B, T, F)
        return batch
