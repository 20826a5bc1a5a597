"""Sentence-classification data, as CLUE ships it and as users keep it: JSON lines
(``{"sentence", "label", "label_desc"}``; IFLYTEK spells the last ``label_des``), a folder with
train.json and optional dev.json and labels.json, or TSV ``text<TAB>label`` lines. Labels stay the
training file's own strings (``"104"``, ``"1"``); their descriptions are kept for display.

Every problem names the file and the line: malformed JSON, a line without a text or a label, an
empty text, a TSV line without a tab, a dev label the training data never had, a labels.json that
disagrees with the data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

JSON_HINT = 'each line: {"sentence": ..., "label": ...} (CLUE), or give TSV lines text<TAB>label'
TSV_HINT = "each line: text<TAB>label"


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    line: int = field(default=0, compare=False)  # where it stands in its file, for messages


@dataclass
class Dataset:
    train: list[Example]
    dev: list[Example]
    labels: list[str]  # the classifier's classes, in its output order
    descriptions: dict[str, str] = field(default_factory=dict)  # label -> label_desc, where the data gives one
    dev_source: str = ""  # where dev came from, in words


def _label_text(value, path, number, hint) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{path}, line {number}: the label must be a string or an integer, not {value!r}", hint)
    return str(value)


def read_examples(path: str | os.PathLike, encoding: str = "utf-8") -> tuple[list[Example], dict[str, str]]:
    """The examples of one file (JSON lines or TSV, told apart by the first non-blank line) and the
    label descriptions it gives. Blank lines are skipped."""
    from ..textio import iter_lines, parse_json, resolve_sources

    examples: list[Example] = []
    descriptions: dict[str, str] = {}
    kind = None
    for number, line in enumerate(iter_lines(resolve_sources(path), encoding), 1):
        if not line.strip():
            continue
        if kind is None:
            kind = "json" if line.lstrip().startswith("{") else "tsv"
        if kind == "json":
            entry = parse_json(line, path, JSON_HINT, number)
            if not isinstance(entry, dict):
                raise InputError(f"{path}, line {number}: not a JSON object", JSON_HINT)
            text = entry.get("sentence", entry.get("text"))
            if not isinstance(text, str) or "label" not in entry:
                raise InputError(f"{path}, line {number}: needs a \"sentence\" string and a \"label\"", JSON_HINT)
            label = _label_text(entry["label"], path, number, JSON_HINT)
            description = entry.get("label_desc", entry.get("label_des"))
            if isinstance(description, str):
                descriptions.setdefault(label, description)
        else:
            text, tab, label = line.rpartition("\t")
            if not tab:
                raise InputError(f"{path}, line {number}: no tab between the text and the label", TSV_HINT)
            label = label.strip()
            if not label:
                raise InputError(f"{path}, line {number}: no label after the tab", TSV_HINT)
        if not text.strip():
            raise InputError(f"{path}, line {number}: the text is empty", "remove the line or give it its text")
        examples.append(Example(text, label, number))
    if not examples:
        raise InputError(f"{path} holds no examples", JSON_HINT)
    return examples, descriptions


def read_label_file(path: str | os.PathLike, encoding: str = "utf-8") -> tuple[list[str], dict[str, str]]:
    """CLUE's labels.json (``{"label", "label_desc"}`` lines): the labels in order, their descriptions."""
    from ..textio import iter_lines, parse_json, resolve_sources

    hint = 'each line: {"label": ..., "label_desc": ...}'
    labels: list[str] = []
    descriptions: dict[str, str] = {}
    for number, line in enumerate(iter_lines(resolve_sources(path), encoding), 1):
        if not line.strip():
            continue
        entry = parse_json(line, path, hint, number)
        if not isinstance(entry, dict) or "label" not in entry:
            raise InputError(f"{path}, line {number}: no \"label\"", hint)
        label = _label_text(entry["label"], path, number, hint)
        if label in labels:
            raise InputError(f"{path}, line {number}: label {label!r} is listed twice", "list each label once")
        labels.append(label)
        description = entry.get("label_desc", entry.get("label_des"))
        if isinstance(description, str):
            descriptions[label] = description
    if not labels:
        raise InputError(f"{path} lists no labels", hint)
    return labels, descriptions


def _label_order(labels: set[str]) -> list[str]:
    """Numbers in numeric order (CLUE's "100".."116", IFLYTEK's 0..118), other labels as strings."""
    return sorted(labels, key=lambda label: (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label))


def _check_known(examples: list[Example], known: set[str], path, fix: str) -> None:
    for example in examples:
        if example.label not in known:
            raise InputError(f"{path}, line {example.line}: label {example.label!r}, which {fix}",
                             "fix the data, or give the labels file that lists it (labels.json)")


def load_dataset(data: str | os.PathLike, dev: str | os.PathLike | None = None, labels: str | os.PathLike | None = None,
                 dev_fraction: float = 0.1, split_seed: int = 0, encoding: str = "utf-8") -> Dataset:
    """Training and dev examples and the label set. ``data``: a file, or a folder with train.json
    (or train.tsv) and optional dev.json and labels.json; ``dev``: a dev file (else the folder's
    dev file, else ``dev_fraction`` of train drawn with ``split_seed``)."""
    from ..splits import dev_split

    data = Path(data)
    if data.is_dir():
        train_file = next((data / name for name in ("train.json", "train.tsv") if (data / name).is_file()), None)
        if train_file is None:
            raise InputError(f"{data} holds neither train.json nor train.tsv", "give the training file itself, or "
                             "a folder with train.json (CLUE) or train.tsv")
        if dev is None:
            dev = next((data / name for name in ("dev.json", "dev.tsv") if (data / name).is_file()), None)
        if labels is None and (data / "labels.json").is_file():
            labels = data / "labels.json"
    elif data.is_file():
        train_file = data
    else:
        raise InputError(f"no such file or folder: {data}", "give a training file or a CLUE task folder")
    train, descriptions = read_examples(train_file, encoding)
    order = None
    if labels is not None:
        order, listed = read_label_file(labels, encoding)
        _check_known(train, set(order), train_file, f"{labels} does not list")
        descriptions = {**descriptions, **listed}
    if dev is not None:
        held, more = read_examples(dev, encoding)
        dev_source = dev_file = str(dev)
        for label, description in more.items():
            descriptions.setdefault(label, description)
    else:
        train, held = dev_split(train, dev_fraction, split_seed)
        dev_source, dev_file = f"{dev_fraction:g} of {train_file.name}, seed {split_seed}", train_file
    if order is None:
        order = _label_order({e.label for e in train})
    if len(order) < 2:
        raise InputError(f"{train_file}: every example has the label {order[0]!r}", "a classifier needs two labels or more")
    _check_known(held, set(order), dev_file, "the training data never has" if labels is None else
                 f"{labels} does not list")
    return Dataset(train, held, order, {k: v for k, v in descriptions.items() if k in set(order)}, dev_source)
