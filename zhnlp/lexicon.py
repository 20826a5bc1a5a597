"""A lexicon: words with counts, as discovery produces it and segmentation consumes it.

Formats (``save`` writes them, ``load`` reads them back):
- ``tsv``: ``word<TAB>count<TAB>score`` per line, most frequent first;
- ``jieba``: ``word count`` per line, what ``jieba.load_userdict`` accepts;
- ``json``: one object ``{"words": [{"word", "count", "score"}, ...], "stats": {...}}``;
- ``jsonl``: one ``{"word", "count", "score"}`` object per line.
``load`` also reads any whitespace-separated ``word count [...]`` file, jieba's dict.txt included.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from .errors import InputError, ZhnlpError
from .textio import parse_json

FORMATS = ("tsv", "jieba", "json", "jsonl")


@dataclass(frozen=True)
class WordEntry:
    """A word, how often the final segmentation uses it, and its cohesion score.

    ``score`` is ln(p(w) / prod p(part)) for the best split of w into other lexicon words (the
    quantity of eq. 2.17 in 最小熵原理(二)): how much the corpus' entropy relies on w being one word.
    Single characters have no split and score 0.
    """

    word: str
    count: int
    score: float = 0.0


@dataclass
class Lexicon:
    """Words sorted most frequent first, with statistics of how they were found."""

    words: list[WordEntry]
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        self.words.sort(key=lambda e: (-e.count, e.word))
        self._index = {e.word: e for e in self.words}

    def __len__(self) -> int:
        return len(self.words)

    def __iter__(self) -> Iterator[WordEntry]:
        return iter(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> WordEntry:
        return self._index[word]

    def counts(self) -> dict[str, int]:
        return {e.word: e.count for e in self.words}

    def top(self, n: int | None, min_length: int = 1) -> list[WordEntry]:
        chosen = [e for e in self.words if len(e.word) >= min_length]
        return chosen if n is None else chosen[:n]

    # ------------------------------------------------------------------ writing
    def write(self, handle: TextIO, fmt: str = "tsv", top: int | None = None, min_length: int = 1) -> None:
        """Write the lexicon (or its ``top`` most frequent words) in one of FORMATS."""
        entries = self.top(top, min_length)
        if fmt == "tsv":
            for e in entries:
                handle.write(f"{e.word}\t{e.count}\t{e.score:.4f}\n")
        elif fmt == "jieba":
            for e in entries:
                handle.write(f"{e.word} {e.count}\n")
        elif fmt == "jsonl":
            for e in entries:
                handle.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")
        elif fmt == "json":
            json.dump({"words": [asdict(e) for e in entries], "stats": self.stats}, handle,
                      ensure_ascii=False, indent=1)
            handle.write("\n")
        else:
            raise ZhnlpError(f"unknown format: {fmt}", f"use one of {', '.join(FORMATS)}", exit_code=2)

    def save(self, path: str | os.PathLike, fmt: str | None = None, force: bool = True) -> None:
        from .outputs import atomic_output

        fmt = fmt or _format_from_suffix(Path(path))
        with atomic_output(path, force=force) as handle:
            self.write(handle, fmt)

    # ------------------------------------------------------------------ reading
    @classmethod
    def load(cls, path: str | os.PathLike, encoding: str = "utf-8") -> "Lexicon":
        """Read a lexicon in any of FORMATS (chosen by suffix: .json, .jsonl, else text columns)."""
        from .textio import read_small_text

        path = Path(path)
        text = read_small_text(path, encoding, (f"no such lexicon: {path}",
                                                f"make one first: zhnlp discover-words CORPUS -o {path}"))
        fmt = _format_from_suffix(path)
        if fmt == "json":
            data = parse_json(text, path, "fix the file, or write it again with --format json")
            items = data.get("words") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise InputError(f"{path}: expected {{\"words\": [...]}}", "write it with --format json")
            words = [_entry_from_obj(obj, path, i + 1) for i, obj in enumerate(items)]
            stats = data.get("stats", {}) if isinstance(data, dict) else {}
            return cls(words, stats)
        words = list(_read_text_entries(io.StringIO(text), path, fmt))
        if not words:
            raise InputError(f"lexicon {path} has no words", "give a lexicon made by zhnlp discover-words")
        return cls(words)

    @classmethod
    def from_counts(cls, counts: dict[str, int] | Iterable[tuple[str, int]]) -> "Lexicon":
        items = counts.items() if isinstance(counts, dict) else counts
        return cls([WordEntry(w, int(c)) for w, c in items if c > 0])


def _format_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".json": "json", ".jsonl": "jsonl"}.get(suffix, "tsv")


def _entry_from_obj(obj, path: Path, line: int) -> WordEntry:
    try:
        return WordEntry(str(obj["word"]), int(obj["count"]), float(obj.get("score", 0.0)))
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{path}, entry {line}: expected {{\"word\": ..., \"count\": ...}}",
                         "each entry needs a word and an integer count") from None


def _read_text_entries(handle: TextIO, path: Path, fmt: str) -> Iterator[WordEntry]:
    seen: set[str] = set()
    for lineno, line in enumerate(handle, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if fmt == "jsonl":
            entry = _entry_from_obj(parse_json(line, path, "each line must be one JSON object", lineno), path, lineno)
        else:
            parts = line.split("\t") if "\t" in line else line.split()
            word = parts[0].strip()
            if any(c.isspace() for c in word):
                is_template = "X" in word.split()
                raise InputError(f"{path}, line {lineno}: {word[:40]!r} is not a word" +
                                 (" but a sentence template: this is a templates file" if is_template else
                                  " (it holds spaces)"),
                                 "give --templates the templates file, and --lexicon a lexicon from "
                                 "zhnlp discover-words" if is_template else
                                 "each line is a word, a tab or space, and an integer count")
            try:
                count = int(float(parts[1])) if len(parts) > 1 else 1
                score = float(parts[2]) if len(parts) > 2 and "\t" in line else 0.0
            except ValueError:
                raise InputError(f"{path}, line {lineno}: expected 'word count', got {line[:40]!r}",
                                 "each line is a word, a tab or space, and an integer count") from None
            entry = WordEntry(word, count, score)
        if entry.word and entry.count > 0 and entry.word not in seen:
            seen.add(entry.word)
            yield entry
