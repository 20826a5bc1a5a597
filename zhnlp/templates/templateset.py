"""Templates and sets of them: what `zhnlp templates` writes and `zhnlp parse` reads.

A template is a sequence of words and slots (``None``; written ``X``), such as ``X 的 X 是 什么``.
Two slots never follow each other, and a template has at least one word. A *trivial* template is a
single word between two slots (``X 的 X``): it is needed to parse but says little, so listings hide
it unless asked.

Formats (``save`` writes them, ``load`` reads them back):
- ``tsv``: ``template<TAB>count`` per line, most frequent first, words separated by one space and
  ``X`` for a slot (so a word spelt ``X`` cannot be told from a slot in this format);
- ``json``: ``{"total": N, "templates": [{"template", "words", "count"}, ...], "stats": {...}}``,
  ``words`` holding ``null`` for a slot;
- ``jsonl``: one ``{"template", "words", "count"}`` object per line.
The probability of a template is its count over ``total``: the sum of the counts of all kept
templates (trivial ones included), stored in json and taken as the sum of the file's counts otherwise.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from math import log
from pathlib import Path
from typing import Iterator, TextIO

from ..errors import InputError
from ..textio import parse_json

FORMATS = ("tsv", "json", "jsonl")
SLOT_TEXT = "X"


@dataclass(frozen=True)
class Template:
    """Words and slots (None), and how many sentence paths produced this template."""

    words: tuple[str | None, ...]
    count: int

    def __str__(self) -> str:
        return " ".join(SLOT_TEXT if w is None else w for w in self.words)

    @property
    def n_words(self) -> int:
        return sum(1 for w in self.words if w is not None)

    @property
    def is_trivial(self) -> bool:
        """One word between two slots, like ``X 的 X``."""
        return len(self.words) == 3 and self.words[0] is None and self.words[2] is None

    def to_dict(self) -> dict:
        return {"template": str(self), "words": list(self.words), "count": self.count}


def parse_template(text: str) -> tuple[str | None, ...]:
    """``"X 的 X"`` -> ``(None, "的", None)``; raises ValueError when it is not a template."""
    words = tuple(None if w == SLOT_TEXT else w for w in text.split())
    _validate(words)
    return words


def _validate(words: tuple[str | None, ...]) -> None:
    if not any(w is not None for w in words):
        raise ValueError("a template needs at least one word")
    for a, b in zip(words, words[1:]):
        if a is None and b is None:
            raise ValueError("two slots in a row")


@dataclass
class TemplateSet:
    """Templates, most frequent first, with the total count their probabilities are taken over."""

    templates: list[Template]
    total: int = 0
    stats: dict = field(default_factory=dict)
    lexicon: object = field(default=None, repr=False)  # the Lexicon discovered on the way, if any

    def __post_init__(self):
        self.templates.sort(key=lambda t: (-t.count, str(t)))
        if not self.total:
            self.total = sum(t.count for t in self.templates)

    def __len__(self) -> int:
        return len(self.templates)

    def __iter__(self) -> Iterator[Template]:
        return iter(self.templates)

    def log_prob(self, template: Template) -> float:
        return log(template.count) - log(self.total)

    def listing(self, top: int | None = None, include_trivial: bool = False,
                min_words: int = 1) -> list[Template]:
        """The ``top`` most frequent templates, trivial ones only when asked."""
        chosen = [t for t in self.templates
                  if (include_trivial or not t.is_trivial) and t.n_words >= min_words]
        return chosen if top is None else chosen[:top]

    @property
    def has_trivial(self) -> bool:
        return any(t.is_trivial for t in self.templates)

    # ------------------------------------------------------------------ writing
    def write(self, handle: TextIO, fmt: str = "tsv", top: int | None = None,
              include_trivial: bool = False, min_words: int = 1) -> None:
        chosen = self.listing(top, include_trivial, min_words)
        if fmt == "tsv":
            for t in chosen:
                handle.write(f"{t}\t{t.count}\n")
        elif fmt == "jsonl":
            for t in chosen:
                handle.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")
        elif fmt == "json":
            json.dump({"total": self.total, "templates": [t.to_dict() for t in chosen], "stats": self.stats},
                      handle, ensure_ascii=False, indent=1)
            handle.write("\n")
        else:
            raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")

    def save(self, path: str | os.PathLike, fmt: str | None = None, force: bool = True,
             include_trivial: bool = True) -> None:
        """Write every template (trivial ones included by default: parsing needs them)."""
        from ..outputs import atomic_output

        fmt = fmt or _format_from_suffix(Path(path))
        with atomic_output(path, force=force) as handle:
            self.write(handle, fmt, include_trivial=include_trivial)

    # ------------------------------------------------------------------ reading
    @classmethod
    def load(cls, path: str | os.PathLike, encoding: str = "utf-8") -> "TemplateSet":
        from ..textio import read_small_text

        path = Path(path)
        text = read_small_text(path, encoding, (f"templates file not found: {path}",
                                                f"make one first: zhnlp templates CORPUS --all -o {path}"))
        fmt = _format_from_suffix(path)
        total = 0
        stats: dict = {}
        if fmt == "json" or (fmt == "tsv" and text.lstrip().startswith("{")):
            try:
                data = json.loads(text)
                objects = data["templates"]
                total = int(data.get("total") or 0)
                stats = data.get("stats") or {}
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                line = getattr(exc, "lineno", 1)
                raise InputError(f"{path}, line {line}: not a templates JSON file ({exc})",
                                 "write it with: zhnlp templates CORPUS --format json -o FILE") from None
            templates = [_template_from_obj(obj, path, 1) for obj in objects]
        else:
            templates = list(_read_lines(text, path, fmt))
        if not templates:
            raise InputError(f"{path} holds no templates", "make it with: zhnlp templates CORPUS --all -o FILE")
        return cls(templates, total, stats)


def _format_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "tsv"


def _template_from_obj(obj, path: Path, line: int) -> Template:
    try:
        if "words" in obj:
            words = tuple(obj["words"])
            _validate(words)
        else:
            words = parse_template(obj["template"])
        count = int(obj["count"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}, line {line}: not a template record ({exc})",
                         'each record needs "template" (or "words") and "count"') from None
    if count <= 0:
        raise InputError(f"{path}, line {line}: count must be positive, got {count}", "fix or drop that line")
    return Template(words, count)


def _read_lines(text: str, path: Path, fmt: str) -> Iterator[Template]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip(" \r") or line.startswith("#"):  # blank; a line of tabs alone is garbage, below
            continue
        if fmt == "jsonl":
            yield _template_from_obj(parse_json(line, path, "each line must be one JSON object", number), path, number)
            continue
        template_text, tab, count_text = line.rstrip("\r").rpartition("\t")
        hint = "each line is a template (words and X slots, space-separated), a tab and its count; write them with: " \
               "zhnlp templates CORPUS -o FILE"
        if not tab or not template_text.strip():
            raise InputError(f"{path}, line {number}: expected 'template<TAB>count', got {line[:60]!r}", hint)
        try:
            count = int(count_text)
        except ValueError:
            raise InputError(f"{path}, line {number}: the count {count_text[:20]!r} is not a whole number", hint) from None
        try:
            words = parse_template(template_text)
        except ValueError as exc:
            raise InputError(f"{path}, line {number}: {exc}", hint) from None
        if count <= 0:
            raise InputError(f"{path}, line {number}: count must be positive, got {count}", "fix or drop that line")
        yield Template(words, count)
