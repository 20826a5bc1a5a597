"""Titles from the light model, in batches: articles sorted by length, encoded with the extended
vocabulary, decoded by the shared decoder (zhnlp.generation), mapped back to characters. The same
code drives the numpy runtime (the CPU default; no torch imported) and the PyTorch module (CUDA,
and evaluation during training)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..generation import GenerationConfig, Hypothesis, generate
from .encoding import CharVocab, pad
from .folder import BOS_ID, EOS_ID, TITLE_TASK_ID


def pointer_titles(model, vocab: CharVocab, articles: Sequence[str], generation: GenerationConfig,
                   max_source_length: int, batch_size: int = 32, device=None,
                   on_batch=None) -> list[tuple[list[tuple[str, float]], bool]]:
    """Per article: ([(title, score)] best first, truncated) where truncated says the best
    hypothesis was cut at max_length. ``model``: a PointerGenerator (``device`` given: torch) or a
    NumpyPointerGenerator, whose batches run on every core (zhnlp.parallel)."""
    from ..parallel import batch_threads

    encoded = [vocab.encode_source(a, TITLE_TASK_ID, max_source_length) for a in articles]
    order = sorted(range(len(articles)), key=lambda i: len(encoded[i][0]))
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]

    def decode(rows: list[int]) -> list[list[Hypothesis]]:
        ids = pad([encoded[i][0] for i in rows])  # (B, S)
        extended = pad([encoded[i][1] for i in rows])
        extended_size = max(len(encoded[i][2]) for i in rows)
        prefix = np.full((len(rows), 1), BOS_ID, dtype=np.int64)
        if device is not None:  # the torch module
            import torch

            state = model.encode(torch.from_numpy(ids).to(device), torch.from_numpy(extended).to(device))
            prefix = torch.from_numpy(prefix).to(device)
        else:
            state = model.encode(ids, extended)
        return generate(lambda t, s: model.step(t, s, extended_size), prefix, EOS_ID, generation, state,
                        normalized=True)

    results: list = [None] * len(articles)
    with batch_threads(len(batches) if device is None else 1) as pool:
        for rows, hypotheses in zip(batches, pool.map(decode, batches)):
            for i, found in zip(rows, hypotheses):
                oovs = encoded[i][2]
                results[i] = ([(vocab.decode(h.tokens, oovs), h.score) for h in found], found[0].truncated)
            if on_batch:
                on_batch(len(rows))
    return results
