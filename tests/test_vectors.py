"""Vectors trained here (zhnlp/vectors): synonyms end up closer than a random pair, the folder round
trips, and filling an embedding matrix leaves the rows of unknown tokens as they were."""
from __future__ import annotations

import random

import numpy as np
import pytest
from typer.testing import CliRunner

from zhnlp.cli.main import app
from zhnlp.errors import InputError
from zhnlp.vectors import Vectors

from .conftest import optional_module

gensim = optional_module("gensim")
needs_gensim = pytest.mark.skipif(gensim is None, reason='needs gensim: pip install "zhnlp[vectors]"')
VOCAB = ["[PAD]", "[UNK]", "苹果", "香蕉", "汽车", "火车", "我", "爱", "吃", "他", "开", "着", "去", "上班", "每天", "新鲜",
         "的", *"苹果香蕉汽车火车"]


def _corpus(path, lines=3000, seed=0):
    """苹果 and 香蕉 share every context (fruit you eat), 汽车 and 火车 theirs (vehicles you take)."""
    rng = random.Random(seed)
    fruit, vehicle = ["苹果", "香蕉"], ["汽车", "火车"]
    text = []
    for _ in range(lines):
        if rng.random() < 0.5:
            text.append(rng.choice(["我爱吃", "我每天吃", "他爱吃新鲜的"]) + rng.choice(fruit))
        else:
            text.append(rng.choice(["他开着", "我每天开着", "他开着新鲜的"]) + rng.choice(vehicle) + "去上班")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


@needs_gensim
def test_a_word_and_its_synonym_end_up_closer_than_a_random_pair(tmp_path):
    from zhnlp.vectors import train_vectors

    corpus = _corpus(tmp_path / "corpus.txt")
    vectors = train_vectors(corpus, VOCAB, tmp_path / "vectors", dim=16, window=3, epochs=5, workers=1, seed=1)
    assert {"苹果", "香蕉", "汽车", "火车", "果", "车"} <= set(vectors.tokens)  # words and characters
    assert "[PAD]" not in vectors and "[UNK]" not in vectors
    assert vectors.similarity("苹果", "香蕉") > vectors.similarity("苹果", "汽车") + 0.2
    assert vectors.similarity("汽车", "火车") > vectors.similarity("香蕉", "火车") + 0.2
    assert vectors.most_similar("苹果", 1)[0][0] == "香蕉"
    loaded = Vectors.from_pretrained(tmp_path / "vectors")
    assert loaded.tokens == vectors.tokens and np.array_equal(loaded.matrix, vectors.matrix)
    assert loaded.config["unit"] == "both" and loaded.config["model_type"] == "vectors"


def test_fill_copies_known_rows_and_counts_the_rest():
    vectors = Vectors(["天", "地", "山水"], np.arange(12, dtype=np.float32).reshape(3, 4))
    matrix = np.full((5, 4), -1.0, dtype=np.float32)
    report = vectors.fill(matrix, ["[PAD]", "地", "风", "山水", "天"])
    assert (report.filled, report.unknown) == (3, 2) and report.unknown_examples == ["[PAD]", "风"]
    assert np.array_equal(matrix[1], vectors["地"]) and np.array_equal(matrix[3], vectors["山水"])
    assert (matrix[[0, 2]] == -1).all()  # unknown tokens keep their initialisation
    with pytest.raises(InputError, match="4 dimensions but the embedding 3"):
        vectors.fill(np.zeros((5, 3)), ["a"] * 5)
    torch = optional_module("torch")
    if torch is not None:  # an nn.Embedding's weight, in place
        embedding = torch.nn.Embedding(5, 4)
        before = embedding.weight.detach().clone()
        vectors.fill(embedding.weight, ["[PAD]", "地", "风", "山水", "天"])
        assert torch.equal(embedding.weight[1], torch.from_numpy(vectors["地"]))
        assert torch.equal(embedding.weight[2], before[2])


@needs_gensim
def test_cli_train_and_similar(tmp_path):
    corpus = _corpus(tmp_path / "corpus.txt", lines=1500)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    runner = CliRunner()
    args = ["vectors", "train", str(corpus), "--vocab", str(tmp_path / "vocab.txt"), "-o", str(tmp_path / "v"),
            "--dim", "8", "--workers", "1", "-q"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--force" in again.stderr
    shown = runner.invoke(app, ["vectors", "similar", "苹果", "--vectors", str(tmp_path / "v"), "-n", "3"])
    assert shown.exit_code == 0 and len(shown.stdout.splitlines()) == 3
    missing = runner.invoke(app, ["vectors", "similar", "龘", "--vectors", str(tmp_path / "v")])
    assert missing.exit_code == 1 and "no vector" in missing.stderr
