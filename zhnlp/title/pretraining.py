"""In-domain auxiliary tasks for the light title model, trained together with the titles, each
announced by its task token at the head of the source:

- ``[DENOISE]``: a title of another paper (csl_titles_8k.tsv), its words dropped and shuffled a
  little and set among sentences of the training abstracts, back to the title: the decoder learns
  to write titles (a title language model) and to pick a title's words out of abstract-like text;
- ``[KEYWORDS]``: a training abstract to its author keywords (csl_train_keywords.txt), which are
  copied from the abstract: copying, on the papers of the training split only.

The noise is drawn once from a seed, so that a resumed run trains on the same examples.
"""
from __future__ import annotations

import os
import random
from typing import Sequence

from ..errors import InputError

KEYWORD_SEPARATOR = "，"  # the file joins keywords with "_"; the target reads them as a list


def read_titles(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """The first column of each non-blank line (csl_titles_8k.tsv: ``title<TAB>discipline``)."""
    from ..textio import iter_lines, resolve_sources

    titles = [line.split("\t")[0].strip() for line in iter_lines(resolve_sources(path), encoding)]
    titles = [t for t in titles if t]
    if not titles:
        raise InputError(f"{path} holds no titles", "give a file of one title per line (a TAB may follow it)")
    return titles


def read_keywords(path: str | os.PathLike, lines: int, encoding: str = "utf-8") -> list[str]:
    """Line i: the keywords of the i-th pair of the title data (``_``-joined), as one target."""
    from ..textio import iter_lines, resolve_sources

    rows = [KEYWORD_SEPARATOR.join(k for k in line.strip().split("_") if k)
            for line in iter_lines(resolve_sources(path), encoding)]
    if len(rows) != lines:
        raise InputError(f"{path} has {len(rows)} lines, the title data {lines}",
                         "give the keywords file aligned line by line with --data (csl_train_keywords.txt)")
    return rows


def _sentences(abstracts: Sequence[str]) -> list[str]:
    from ..chars import sentences

    found = [s for a in abstracts for s in sentences(a) if 8 <= len(s) <= 80]
    return found or [a[:60] for a in abstracts]


def noised_titles(titles: Sequence[str], abstracts: Sequence[str], seed: int = 0, drop: float = 0.15,
                  context: int = 2) -> list[tuple[str, str]]:
    """(source, title) per title: the title's words (jieba), each dropped with probability ``drop``
    and moved up to two places, then set at a random place among ``context`` random sentences of
    the abstracts."""
    import jieba

    rng = random.Random(seed)
    pool = _sentences(abstracts)
    examples = []
    for title in titles:
        words = [w for w in jieba.cut(title, HMM=False) if w.strip()]
        kept = [w for w in words if rng.random() >= drop] or words
        keyed = sorted(range(len(kept)), key=lambda i: i + rng.uniform(0, 2.5))  # local shuffle
        noised = "".join(kept[i] for i in keyed)
        pieces = [rng.choice(pool) for _ in range(context)]
        pieces.insert(rng.randrange(len(pieces) + 1), noised)
        examples.append(("，".join(pieces) + "。", title))
    return examples
