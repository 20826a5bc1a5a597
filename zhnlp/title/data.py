"""Title data: (abstract, title) pairs from a TSV file, and a dev split carved with a fixed seed.

A line is ``abstract<TAB>title``, or CSL's ``to title<TAB>abstract<TAB>title`` (../shared/data/title/
csl_train.tsv; the task column is dropped). A line of another shape is an error naming the file and
the line; blank lines are skipped.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

from ..errors import InputError

CSL_TASK = "to title"


@dataclass(frozen=True)
class TitlePair:
    abstract: str
    title: str


def read_title_pairs(path: str | os.PathLike, encoding: str = "utf-8") -> list[TitlePair]:
    from ..textio import iter_lines, resolve_sources

    pairs = []
    for number, line in enumerate(iter_lines(resolve_sources(path), encoding), 1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) == 3 and columns[0] == CSL_TASK:
            columns = columns[1:]
        if len(columns) != 2 or not columns[0].strip() or not columns[1].strip():
            raise InputError(f"{path}, line {number}: expected 'abstract<TAB>title' (or CSL's 'to title<TAB>abstract"
                             f"<TAB>title'), got {len(columns)} column(s)", "fix or remove that line")
        pairs.append(TitlePair(columns[0].strip(), columns[1].strip()))
    if not pairs:
        raise InputError(f"{path} holds no (abstract, title) pairs", "give a TSV of abstract<TAB>title lines")
    return pairs


def dev_split(pairs: list[TitlePair], fraction: float = 0.2, seed: int = 0) -> tuple[list[TitlePair], list[TitlePair]]:
    """(train, dev): ``fraction`` of the pairs drawn with ``seed`` for dev, the rest for train, each in
    the file's order."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"dev fraction {fraction} is outside (0, 1)", "use e.g. 0.2")
    chosen = set(random.Random(seed).sample(range(len(pairs)), max(1, round(fraction * len(pairs)))))
    return ([p for i, p in enumerate(pairs) if i not in chosen], [p for i, p in enumerate(pairs) if i in chosen])
