"""Title data: (abstract, title) pairs from a TSV file, and a dev split carved with a fixed seed.

A line is ``abstract<TAB>title``, or CSL's ``to title<TAB>abstract<TAB>title`` (../shared/data/title/
csl_train.tsv; the task column is dropped). A line of another shape is an error naming the file and
the line; blank lines are skipped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError
from ..splits import dev_split

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


__all__ = ["CSL_TASK", "TitlePair", "dev_split", "read_title_pairs"]
