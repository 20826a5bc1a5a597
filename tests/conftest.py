"""Shared fixtures: where ../shared/data is, a synthetic language with planted words, and the
``torch`` marker: tests that need PyTorch or transformers (the `zhnlp[torch]` extra) carry it, are
skipped when those are missing, and are deselected by the torch-free CI pass (`-m "not torch"`)."""
from __future__ import annotations

import importlib
import importlib.util
import os
import random
from pathlib import Path

import pytest

HAS_TORCH = all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))
needs_torch = pytest.mark.torch


def optional_module(name: str):
    """The module, or None when it is not installed (tests that use it carry @needs_torch)."""
    return importlib.import_module(name) if importlib.util.find_spec(name) is not None else None


def random_couplet_folder(folder, vocab: list[str], embedding_dim: int = 16, dilations=(1, 1, 1, 1, 1, 1),
                          seed: int = 0, scale: float = 0.3):
    """An untrained couplet model folder with random weights, written without torch."""
    import numpy as np

    from zhnlp.couplet.folder import CoupletConfig, expected_shapes, write_folder

    config = CoupletConfig(vocab_size=len(vocab), embedding_dim=embedding_dim, dilations=tuple(dilations))
    rng = np.random.default_rng(seed)
    weights = {name: (rng.normal(0, scale, shape)).astype(np.float32) for name, shape in expected_shapes(config).items()}
    write_folder(folder, config, vocab, weights)
    return folder


def random_title_folder(folder, chars: str, hidden_size: int = 16, embedding_dim: int = 8, seed: int = 0,
                        scale: float = 0.3, **config):
    """An untrained light title model folder with random weights (the vocabulary: the special tokens
    and ``chars``), written without torch."""
    import numpy as np

    from zhnlp.title.folder import SPECIAL_TOKENS, PointerConfig, expected_shapes, write_folder

    vocab = [*SPECIAL_TOKENS, *dict.fromkeys(chars)]
    config = PointerConfig(vocab_size=len(vocab), hidden_size=hidden_size, embedding_dim=embedding_dim, **config)
    rng = np.random.default_rng(seed)
    weights = {name: rng.normal(0, scale, shape).astype(np.float32) for name, shape in expected_shapes(config).items()}
    write_folder(folder, config, vocab, weights)
    return folder


def pytest_collection_modifyitems(config, items):
    if HAS_TORCH:
        return
    if os.environ.get("ZHNLP_REQUIRE_TORCH"):
        raise pytest.UsageError("ZHNLP_REQUIRE_TORCH is set but torch or transformers is missing")
    skip = pytest.mark.skip(reason='needs PyTorch and transformers: pip install "zhnlp[torch]"')
    for item in items:
        if "torch" in item.keywords:
            item.add_marker(skip)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

requires_data = pytest.mark.skipif(
    not (SHARED_DATA / "corpus" / "sidamingzhu.txt").is_file(),
    reason=f"shared data not found at {SHARED_DATA} (CI has it; locally put the data set beside the repo)",
)

# 200 common characters: planted words are drawn from them, so words share characters the way
# Chinese words do, and only the statistics tell where one word ends
ALPHABET = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学"
            "对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面"
            "公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部"
            "正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关"
            "并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安")


def make_language(seed: int = 0, n_words: int = 60, n_sentences: int = 6000):
    """(planted words, corpus lines): sentences are random sequences of 2-4 char words."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < n_words:
        words.add("".join(rng.sample(ALPHABET, rng.choice((2, 2, 3, 4)))))
    vocab = sorted(words)
    weights = [1.0 / (rank + 5) for rank in range(len(vocab))]  # Zipf-like
    lines = []
    for _ in range(n_sentences):
        sentence = rng.choices(vocab, weights, k=rng.randint(4, 12))
        lines.append("".join(sentence) + rng.choice("。，！？"))
    return vocab, lines


@pytest.fixture(scope="session")
def language():
    return make_language()


@pytest.fixture
def corpus_file(tmp_path, language):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(language[1]) + "\n", encoding="utf-8")
    return path
