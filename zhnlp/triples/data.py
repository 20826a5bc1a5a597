"""Triple-extraction data: DuIE JSON lines (``{"text", "spo_list": [{"subject", "predicate",
"object": {"@value", ...}}]}``, ../shared/data/triples/train.json) and the schema of predicates.

Only the main object (``object["@value"]``) is read: DuIE's extra object slots (inWork, onDate, ...)
are not predicted. Each triple gets character spans in its text: every occurrence of the subject
and of the object (the labels name strings, not positions); a triple whose subject or object does not
occur in the text is skipped and counted. A predicate outside the schema is an error naming the
file and line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import InputError

SCHEMA_HINT = "give the schema.json of the data (one predicate object per line)"


@dataclass(frozen=True)
class Triple:
    subject: str
    predicate: str
    object: str


@dataclass
class Sentence:
    text: str
    triples: list[Triple] = field(default_factory=list)


@dataclass
class ReadReport:
    sentences: int = 0
    triples: int = 0
    skipped_not_in_text: int = 0  # subject or object absent from the text: skipped


def _schema_entries(path: str | os.PathLike, encoding: str) -> list[dict]:
    from ..textio import iter_lines, parse_json, resolve_sources

    entries = []
    for number, line in enumerate(iter_lines(resolve_sources(path), encoding), 1):
        if not line.strip():
            continue
        entry = parse_json(line, path, SCHEMA_HINT, number)
        if not isinstance(entry, dict) or not isinstance(entry.get("predicate"), str):
            raise InputError(f"{path}, line {number}: no \"predicate\" in this schema entry", SCHEMA_HINT)
        entries.append(entry)
    if not entries:
        raise InputError(f"{path} holds no predicates", SCHEMA_HINT)
    return entries


def read_schema(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """The predicates of a DuIE schema.json (one JSON object with a "predicate" per line), in order."""
    return list(dict.fromkeys(entry["predicate"] for entry in _schema_entries(path, encoding)))


def read_entity_types(path: str | os.PathLike, encoding: str = "utf-8") -> dict[str, tuple[str, str]]:
    """{predicate: (subject type, main object type)} of a DuIE schema.json ("" where it names none)."""
    types = {}
    for entry in _schema_entries(path, encoding):
        target = entry.get("object_type")
        target = target.get("@value", "") if isinstance(target, dict) else target
        types.setdefault(entry["predicate"], (str(entry.get("subject_type") or ""), str(target or "")))
    return types


def read_sentences(path: str | os.PathLike, predicates: list[str] | None = None, encoding: str = "utf-8",
                   labelled: bool = True) -> tuple[list[Sentence], ReadReport]:
    """The sentences of a DuIE JSON-lines file and what was skipped. ``predicates``: the schema's;
    a triple with another predicate is an error. ``labelled=False`` reads texts alone."""
    from ..textio import iter_lines, parse_json, resolve_sources

    hint = 'each line: {"text": ..., "spo_list": [{"subject": ..., "predicate": ..., "object": {"@value": ...}}]}'
    known = set(predicates) if predicates is not None else None
    sentences, report = [], ReadReport()
    for number, line in enumerate(iter_lines(resolve_sources(path), encoding), 1):
        if not line.strip():
            continue
        entry = parse_json(line, path, hint, number)
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise InputError(f"{path}, line {number}: no \"text\" string", hint)
        sentence = Sentence(entry["text"])
        for spo in (entry.get("spo_list") or []) if labelled else []:
            try:
                subject, predicate = spo["subject"], spo["predicate"]
                target = spo["object"]["@value"] if isinstance(spo["object"], dict) else spo["object"]
            except (KeyError, TypeError):
                raise InputError(f"{path}, line {number}: a triple without subject, predicate or object", hint) from None
            if known is not None and predicate not in known:
                raise InputError(f"{path}, line {number}: predicate {predicate!r} is not in the schema",
                                 "fix the line, or give the schema it was labelled with (--schema)")
            report.triples += 1
            if not subject or not target or subject not in sentence.text or target not in sentence.text:
                report.skipped_not_in_text += 1
                continue
            triple = Triple(subject, predicate, target)
            if triple not in sentence.triples:
                sentence.triples.append(triple)
        sentences.append(sentence)
    report.sentences = len(sentences)
    if not sentences:
        raise InputError(f"{path} holds no sentences", hint)
    return sentences, report


def occurrences(text: str, part: str) -> list[tuple[int, int]]:
    """Every (start, end) character span of ``part`` in ``text`` (end exclusive), overlaps included."""
    spans, start = [], text.find(part)
    while start >= 0 and part:
        spans.append((start, start + len(part)))
        start = text.find(part, start + 1)
    return spans
