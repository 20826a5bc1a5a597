"""Shared fixtures: where ../shared/data is, and a synthetic language with planted words."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

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
