"""The counting table the couplet model is measured against (issue 5's calibration), for the
benchmark only: the most frequent lower character per upper context in train, under the rules."""
from __future__ import annotations

import os

import numpy as np

from zhnlp.couplet.data import build_vocab, read_pairs
from zhnlp.couplet.folder import UNK


def counting_baseline(data_dir: str | os.PathLike, split: str = "dev", limit: int | None = None) -> list[str]:
    """The calibration table: for each upper character with two characters of context on
    each side, the most frequent lower character in train (backing off to narrower contexts), decoded
    under the same rules. Used by the benchmark only."""
    from collections import Counter, defaultdict

    from zhnlp.couplet.decode import constrained_decode, never_emitted

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


