"""A couplet model folder: config.json (``model_type: couplet``), model.safetensors and vocab.txt,
read and written without torch.

Shared by the PyTorch model (training, CUDA) and the numpy runtime (fast CPU inference). Every
``--model`` is resolved here: a path, a name under zhnlp's model folders or a hub id, refused with a
clear message when it holds another kind of model.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .contexts import DEFAULT_WINDOWS

MODEL_TYPE = "couplet"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.txt"
PAD, UNK = "[PAD]", "[UNK]"
TRAIN_HINT = "train one: zhnlp train couplet --data ../shared/data/couplet -o DIR"


@dataclass
class CoupletConfig:
    vocab_size: int = 0
    embedding_dim: int = 128  # as the post; also the channel width of every convolution
    dilations: tuple[int, ...] = (1, 1, 1, 1, 1, 1)  # six plain convolutions, as the post's code
    kernel_size: int = 3
    dropout: float = 0.25  # after the embedding, as the post
    max_length: int = 64  # longest line the model accepts (the data's longest is 34)
    # hashed upper-line contexts (contexts.py); 0 buckets: none, the post's model
    context_buckets: int = 0
    context_dim: int = 32  # the table's rows are narrow: a context carries little more than a few likely characters
    context_windows: tuple[tuple[int, int], ...] = DEFAULT_WINDOWS
    context_input: bool = False  # also add the context vector to the CNN's input (always: to its output)
    context_dropout: float = 0.25  # on the context vector while training; as on the embeddings
    model_type: str = field(default=MODEL_TYPE)

    def __post_init__(self):
        self.context_windows = tuple(tuple(int(o) for o in w) for w in self.context_windows)  # JSON gives lists
        if any(len(w) != 2 or w[0] > w[1] for w in self.context_windows):
            raise ValueError(f"context windows must be (first, last) offsets, first <= last: {self.context_windows}")

    @classmethod
    def from_dict(cls, data: dict) -> "CoupletConfig":
        from ..hub import config_from_dict

        return config_from_dict(cls, data, MODEL_TYPE)  # folders of zhnlp 0.1 said zhnlp-couplet-cnn


def default_model_dir() -> Path:
    """The couplet model shipped with the package (data/models/couplet)."""
    from ..info import shipped_model_dir

    return shipped_model_dir("couplet")


def resolve_folder(name_or_path: str | os.PathLike | None) -> Path:
    """The couplet model folder for ``--model`` (None: the shipped one)."""
    from ..hub import resolve_model_or_shipped

    return resolve_model_or_shipped(name_or_path, MODEL_TYPE, (CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE),
                                    "couplet model", TRAIN_HINT)


def read_folder(directory: str | os.PathLike) -> tuple[CoupletConfig, list[str]]:
    """The config and vocabulary of a model folder (one ``resolve_folder`` found, of the right type),
    or an InputError saying what is wrong."""
    directory = Path(directory)
    missing = [n for n in (CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE) if not (directory / n).is_file()]
    if missing:
        raise InputError(f"couplet model folder {directory} lacks {', '.join(missing)}", TRAIN_HINT)
    try:
        config = CoupletConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, AttributeError, ValueError) as exc:
        raise InputError(f"{directory / CONFIG_FILE}: not a couplet model config ({exc})",
                         "give a folder written by zhnlp train couplet") from None
    vocab = (directory / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:config.vocab_size]
    if len(vocab) != config.vocab_size:
        raise InputError(f"{directory / VOCAB_FILE} has {len(vocab)} entries; config.json says {config.vocab_size}",
                         "give a folder written by zhnlp train couplet")
    return config, vocab


def expected_shapes(config: CoupletConfig) -> dict[str, tuple[int, ...]]:
    """The weights a folder of this config holds, by name, as the PyTorch model names them."""
    width, vocab = config.embedding_dim, config.vocab_size
    shapes = {"embedding.weight": (vocab, width), "output.weight": (vocab, width), "output.bias": (vocab,)}
    for i in range(len(config.dilations)):
        shapes[f"encoder.layers.{i}.conv.weight"] = (2 * width, width, config.kernel_size)
        shapes[f"encoder.layers.{i}.conv.bias"] = (2 * width,)
    if config.context_buckets:
        shapes["context_embedding.weight"] = (config.context_buckets, config.context_dim)
        shapes["context_output.weight"] = (width, config.context_dim)
        if config.context_input:
            shapes["context_input.weight"] = (width, config.context_dim)
    return shapes


def load_weights(directory: str | os.PathLike, config: CoupletConfig) -> dict[str, np.ndarray]:
    """The folder's weights as float32 arrays, checked against its config."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(directory) / WEIGHTS_FILE
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the weights ({str(exc)[:120]})", TRAIN_HINT) from None
    for name, shape in expected_shapes(config).items():
        if name not in weights or tuple(weights[name].shape) != shape:
            got = "missing" if name not in weights else f"of shape {tuple(weights[name].shape)}"
            raise InputError(f"{path}: weight {name} is {got}, where config.json needs {shape}",
                             "give a folder written by zhnlp train couplet (weights and config.json together)")
    return {name: array.astype(np.float32) for name, array in weights.items()}


def write_folder(directory: str | os.PathLike, config: CoupletConfig, vocab: list[str],
                 weights: dict[str, np.ndarray], training: dict | None = None) -> Path:
    """config.json, model.safetensors and vocab.txt, written atomically (hub.write_model_folder)."""
    from ..hub import write_model_folder

    return write_model_folder(directory, config, vocab, weights, training)
