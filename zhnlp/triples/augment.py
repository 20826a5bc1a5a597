"""Entity-swap augmentation, one of kg-2019's tricks: a copy of a training sentence with one of its
entities replaced, everywhere it occurs, by another training entity of the same type (the schema's
subject or object type for that role), its triples renamed with it. The model then sees the same
context with other names, and has to read the context rather than remember the names.

An entity is swapped only where nothing else in the sentence overlaps it (neither another entity of
its triples inside it or around it, nor the replacement already in the text), so that every renamed
triple is still spelled out in the new text.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from .data import Sentence, Triple


def entity_pools(sentences: Sequence[Sentence], types: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """{type: the training entities seen in that role's type, sorted}."""
    pools: dict[str, set[str]] = defaultdict(set)
    for sentence in sentences:
        for t in sentence.triples:
            subject_type, object_type = types.get(t.predicate, ("", ""))
            pools[subject_type].add(t.subject)
            pools[object_type].add(t.object)
    pools.pop("", None)
    return {kind: sorted(names) for kind, names in pools.items()}


def swap_entity(sentence: Sentence, types: dict[str, tuple[str, str]], pools: dict[str, list[str]],
                rng: np.random.Generator, tries: int = 5) -> Sentence | None:
    """A copy of ``sentence`` with one entity swapped (see the module's docstring), or None where
    none can be."""
    kinds: dict[str, str] = {}
    for t in sentence.triples:
        subject_type, object_type = types.get(t.predicate, ("", ""))
        kinds.setdefault(t.subject, subject_type)
        kinds.setdefault(t.object, object_type)
    names = list(kinds)
    swappable = [e for e in names if kinds[e] in pools and not any(e != o and (e in o or o in e) for o in names)]
    if not swappable:
        return None
    entity = swappable[int(rng.integers(len(swappable)))]
    pool = pools[kinds[entity]]
    for _ in range(tries):
        replacement = pool[int(rng.integers(len(pool)))]
        if replacement in sentence.text or any(replacement in o or o in replacement for o in names):
            continue
        text = sentence.text.replace(entity, replacement)
        triples = [Triple(replacement if t.subject == entity else t.subject, t.predicate,
                          replacement if t.object == entity else t.object) for t in sentence.triples]
        if all(t.subject in text and t.object in text for t in triples):
            return Sentence(text, triples)
    return None


def augmented(sentences: Sequence[Sentence], types: dict[str, tuple[str, str]], copies: int,
              seed: int = 0) -> list[tuple[int, Sentence]]:
    """``copies`` entity-swapped copies of each sentence (fewer where swaps fail), as (index of the
    sentence it came from, copy); the same for the same seed."""
    pools = entity_pools(sentences, types)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(copies):
        for index, sentence in enumerate(sentences):
            copy = swap_entity(sentence, types, pools, rng)
            if copy is not None:
                out.append((index, copy))
    return out
