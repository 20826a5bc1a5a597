"""Characters to ids and back for the light title model, with the pointer-generator's extended
vocabulary (See et al. 2017): a source character outside the vocabulary gets a temporary id V + j for
its article, so that the model can copy it into the title all the same."""
from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np

from .folder import EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID


def clean(text: str) -> str:
    """Whitespace runs to one space, ends stripped: the units the model reads and writes."""
    return " ".join(text.split())


def build_vocab(texts: Iterable[str], min_count: int = 1) -> list[str]:
    """The special tokens, then the characters of ``texts`` seen at least ``min_count`` times, most
    frequent first."""
    counts = Counter(ch for text in texts for ch in clean(text))
    return [*SPECIAL_TOKENS, *(ch for ch, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                               if n >= min_count and ch not in SPECIAL_TOKENS)]


class CharVocab:
    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.index = {token: i for i, token in enumerate(tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode_source(self, text: str, task_id: int, max_length: int) -> tuple[list[int], list[int], list[str]]:
        """(ids with UNK for unknown characters, extended ids, the article's unknown characters):
        the task token, then the first ``max_length - 1`` characters."""
        chars = clean(text)[:max_length - 1]
        ids, extended, oovs = [task_id], [task_id], []
        where: dict[str, int] = {}
        size = len(self.tokens)
        for ch in chars:
            i = self.index.get(ch)
            if i is None:
                if ch not in where:
                    where[ch] = size + len(oovs)
                    oovs.append(ch)
                ids.append(UNK_ID), extended.append(where[ch])
            else:
                ids.append(i), extended.append(i)
        return ids, extended, oovs

    def encode_target(self, text: str, oovs: list[str], max_length: int) -> list[int]:
        """Extended ids of the title's first ``max_length - 1`` characters and the end token; an
        unknown character the source has becomes its copy id, one it lacks UNK."""
        copy = {ch: len(self.tokens) + j for j, ch in enumerate(oovs)}
        ids = [self.index.get(ch, copy.get(ch, UNK_ID)) for ch in clean(text)[:max_length - 1]]
        return ids + [EOS_ID]

    def decode(self, ids: Iterable[int], oovs: list[str]) -> str:
        size, out = len(self.tokens), []
        for i in ids:
            if i >= size:
                out.append(oovs[i - size] if i - size < len(oovs) else "")
            elif i >= len(SPECIAL_TOKENS):
                out.append(self.tokens[i])
        return "".join(out)


def pad(rows: list[list[int]], value: int = PAD_ID) -> np.ndarray:
    """(B, longest) int64, right-padded."""
    out = np.full((len(rows), max(1, max(map(len, rows), default=1))), value, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out
