"""A title model folder, read and written without torch: config.json (``model_type: title``, and
``architecture``: ``pointer`` for the light copying seq2seq, ``unilm`` for UniLM on a BERT), the
weights (model.safetensors) and the vocabulary (vocab.txt; a UniLM folder also holds its BERT's
tokenizer files). Every ``--model`` of the title commands is resolved here.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

MODEL_TYPE = "title"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.txt"
TRAIN_HINT = "train one: zhnlp train title --data ../shared/data/title/csl_train.tsv -o DIR"
# the light model's special tokens, first in its vocabulary; a task token opens every source
PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
TASKS = ("[TITLE]", "[DENOISE]", "[KEYWORDS]")  # abstract -> title; noised title -> title; abstract -> keywords
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS, *TASKS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
TITLE_TASK_ID = SPECIAL_TOKENS.index("[TITLE]")
BANNED_OUTPUTS = [i for i in range(len(SPECIAL_TOKENS)) if i != EOS_ID]  # what a decoded title never holds


@dataclass
class PointerConfig:
    """The light model: BiLSTM encoder, LSTM decoder with attention, copying (See et al. 2017)
    and Su's source prior (kexue.fm/archives/5861)."""
    vocab_size: int = 0
    embedding_dim: int = 128  # the vectors' width; the embedding is shared by encoder, decoder and output
    hidden_size: int = 256  # decoder LSTM; the encoder's two directions are half this each
    max_source_length: int = 256  # characters read of an article (CSL abstracts average 208); the head is kept
    max_target_length: int = 48  # CSL titles average 19 characters
    dropout: float = 0.3  # on embeddings and the decoder's output: 800 training pairs overfit fast (0.2: 1-2 Rouge-L less on dev)
    coverage: bool = True  # See et al.'s coverage: attention remembers what it has read (fewer repeats)
    coverage_loss: float = 1.0  # weight of the coverage loss (See et al.: 1)
    source_prior: bool = True  # Su's prior: characters of the source get a learned boost in the vocabulary softmax
    self_terminating_epsilon: float = 0.0  # > 0: the self-terminating output (Welleck et al.): p(end) grows each step
    architecture: str = "pointer"
    model_type: str = field(default=MODEL_TYPE)

    @classmethod
    def from_dict(cls, data: dict) -> "PointerConfig":
        from ..hub import config_from_dict

        return config_from_dict(cls, data, MODEL_TYPE)


def resolve_folder(name_or_path: str | os.PathLike | None) -> Path:
    """The title model folder for ``--model`` (None: the shipped one)."""
    from ..hub import resolve_model_or_shipped

    return resolve_model_or_shipped(name_or_path, MODEL_TYPE, (CONFIG_FILE,), "title model", TRAIN_HINT)


def read_config(directory: str | os.PathLike) -> dict:
    path = Path(directory) / CONFIG_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a title model config ({exc})", TRAIN_HINT) from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: not a title model config (not a JSON object)", TRAIN_HINT)
    return document


def read_vocab(directory: str | os.PathLike, size: int) -> list[str]:
    path = Path(directory) / VOCAB_FILE
    if not path.is_file():
        raise InputError(f"title model folder {directory} lacks {VOCAB_FILE}", TRAIN_HINT)
    vocab = path.read_text(encoding="utf-8").split("\n")[:size]
    if len(vocab) != size:
        raise InputError(f"{path} has {len(vocab)} entries; config.json says {size}", TRAIN_HINT)
    return vocab


def expected_shapes(config: PointerConfig) -> dict[str, tuple[int, ...]]:
    """The light model's weights by name, as the PyTorch module names them."""
    v, e, h = config.vocab_size, config.embedding_dim, config.hidden_size
    half = h // 2
    shapes = {"embedding.weight": (v, e)}
    for name in ("encoder_forward", "encoder_backward"):
        shapes.update({f"{name}.weight_ih_l0": (4 * half, e), f"{name}.weight_hh_l0": (4 * half, half),
                       f"{name}.bias_ih_l0": (4 * half,), f"{name}.bias_hh_l0": (4 * half,)})
    shapes.update({"bridge_h.weight": (h, h), "bridge_h.bias": (h,), "bridge_c.weight": (h, h), "bridge_c.bias": (h,),
                   "decoder.weight_ih_l0": (4 * h, e), "decoder.weight_hh_l0": (4 * h, h),
                   "decoder.bias_ih_l0": (4 * h,), "decoder.bias_hh_l0": (4 * h,),
                   "attention_query.weight": (h, h), "coverage_weight": (1,),
                   "combine.weight": (h, 2 * h), "combine.bias": (h,), "to_embedding.weight": (e, h),
                   "output_bias": (v,), "copy_gate.weight": (1, 2 * h + e), "copy_gate.bias": (1,),
                   "prior_scale": (1,), "prior_shift": (v,), "keep.weight": (1, h), "keep.bias": (1,)})
    return shapes


def load_weights(directory: str | os.PathLike, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The folder's weights as float32 arrays, checked against ``shapes``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise InputError(f"title model folder {directory} lacks {WEIGHTS_FILE}", TRAIN_HINT)
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the weights ({str(exc)[:120]})", TRAIN_HINT) from None
    for name, shape in shapes.items():
        if name not in weights or tuple(weights[name].shape) != shape:
            got = "missing" if name not in weights else f"of shape {tuple(weights[name].shape)}"
            raise InputError(f"{path}: weight {name} is {got}, where config.json needs {shape}",
                             "give a folder written by zhnlp train title (weights and config.json together)")
    return {name: array.astype(np.float32) for name, array in weights.items()}


def write_folder(directory: str | os.PathLike, config, vocab: list[str], weights: dict[str, np.ndarray],
                 training: dict | None = None) -> Path:
    """config.json, model.safetensors and vocab.txt, written atomically (hub.write_model_folder)."""
    from ..hub import write_model_folder

    return write_model_folder(directory, config, vocab, weights, training)
