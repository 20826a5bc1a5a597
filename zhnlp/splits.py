"""The dev split every task carves from its training data: a fixed share drawn with a seed, so that
each model is chosen on the same held-out examples and never on a test split."""
from __future__ import annotations

import random
from typing import Sequence, TypeVar

from .errors import InputError

Item = TypeVar("Item")


def dev_split(items: Sequence[Item], fraction: float = 0.2, seed: int = 0) -> tuple[list[Item], list[Item]]:
    """(train, dev): ``fraction`` of the items drawn with ``seed`` for dev, the rest for train, each in
    the input's order."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"dev fraction {fraction} is outside (0, 1)", "use e.g. 0.2")
    chosen = set(random.Random(seed).sample(range(len(items)), max(1, round(fraction * len(items)))))
    return ([x for i, x in enumerate(items) if i not in chosen], [x for i, x in enumerate(items) if i in chosen])
