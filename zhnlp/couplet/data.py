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
from typing import Iterator

import numpy as np

from ..errors import InputError
from ..textio import read_small_text
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


class CoupletBatches:
    """Batches of equal-length pairs: {"input_ids": (B, T), "labels": (B, T)}; resumable."""

    def __init__(self, pairs: list[tuple[str, str]], vocab: list[str], batch_size: int, max_length: int,
                 seed: int = 0, shuffle: bool = True):
        index = {c: i for i, c in enumerate(vocab)}
        by_length: dict[int, list[tuple[list[int], list[int]]]] = {}
        self.skipped = 0
        for up, low in pairs:
            if len(up) > max_length:
                self.skipped += 1
                continue
            by_length.setdefault(len(up), []).append((encode(up, index), encode(low, index)))
        self.groups = {n: (np.array([u for u, _ in items]), np.array([w for _, w in items]))
                       for n, items in by_length.items()}
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.position = 0  # batches of this epoch already given
        if not self.groups:
            raise InputError("no couplet pairs to train on", "check the data folder")

    def __len__(self) -> int:
        return sum(-(-len(u) // self.batch_size) for u, _ in self.groups.values())

    @property
    def examples(self) -> int:
        return sum(len(u) for u, _ in self.groups.values())

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def _plan(self) -> list[tuple[int, np.ndarray]]:
        """(length, row indices) of every batch of this epoch, in order."""
        rng = np.random.default_rng([self.seed, self.epoch])
        plan = []
        for length in sorted(self.groups):
            rows = np.arange(len(self.groups[length][0]))
            if self.shuffle:
                rows = rng.permutation(rows)
            plan += [(length, rows[i:i + self.batch_size]) for i in range(0, len(rows), self.batch_size)]
        if self.shuffle:
            plan = [plan[i] for i in rng.permutation(len(plan))]
        return plan

    def __iter__(self) -> Iterator[dict]:
        import torch

        plan = self._plan()
        while self.position < len(plan):
            length, rows = plan[self.position]
            self.position += 1
            uppers, lowers = self.groups[length]
            yield {"input_ids": torch.from_numpy(uppers[rows]), "labels": torch.from_numpy(lowers[rows])}
        self.epoch += 1
        self.position = 0
