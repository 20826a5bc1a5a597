"""The couplet model: character embedding, gated residual CNN, a softmax over characters at every
position (基于CNN和序列标注的对联机器人, kexue.fm/archives/6270).

Upper and lower lines have equal length and correspond position by position, so the lower line
is predicted by sequence labelling: one forward pass gives every position's distribution.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from ..nn import GatedResidualStack

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.txt"
PAD, UNK = "[PAD]", "[UNK]"


@dataclass
class CoupletConfig:
    vocab_size: int = 0
    embedding_dim: int = 128  # as the post; also the channel width of every convolution
    dilations: tuple[int, ...] = (1, 1, 1, 1, 1, 1)  # six plain convolutions, as the post's code
    kernel_size: int = 3
    dropout: float = 0.25  # after the embedding, as the post
    max_length: int = 64  # longest line the model accepts (the data's longest is 34)
    model_type: str = field(default="zhnlp-couplet-cnn")

    @classmethod
    def from_dict(cls, data: dict) -> "CoupletConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "dilations" in known:
            known["dilations"] = tuple(known["dilations"])
        return cls(**known)


class CoupletModel(nn.Module):
    def __init__(self, config: CoupletConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = GatedResidualStack(config.embedding_dim, config.dilations, config.kernel_size)
        self.output = nn.Linear(config.embedding_dim, config.vocab_size)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None):
        # input_ids: (B, T), 0 = padding; labels: (B, T), -100 where not scored
        mask = input_ids != 0  # (B, T)
        x = self.dropout(self.embedding(input_ids))  # (B, T, C)
        logits = self.output(self.encoder(x, mask))  # (B, T, V)
        if labels is None:
            return logits
        loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        return logits, loss

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embedding

    # ------------------------------------------------------------------ folders
    def save_pretrained(self, directory: str | os.PathLike, vocab: list[str]) -> Path:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        tmp = directory / f".{WEIGHTS_FILE}.tmp"
        save_file(state, str(tmp))
        os.replace(tmp, directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8")
        (directory / VOCAB_FILE).write_text("\n".join(vocab) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> tuple["CoupletModel", list[str]]:
        from safetensors.torch import load_file

        directory = Path(directory)
        missing = [n for n in (CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE) if not (directory / n).is_file()]
        if missing:
            raise InputError(f"couplet model folder {directory} lacks {', '.join(missing)}",
                             "train one: zhnlp train couplet --data ../shared/data/couplet -o DIR")
        try:
            config = CoupletConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as exc:
            raise InputError(f"{directory / CONFIG_FILE}: not a couplet model config ({exc})",
                             "give a folder written by zhnlp train couplet") from None
        vocab = (directory / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:config.vocab_size]
        model = cls(config)
        model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
        return model.eval(), vocab
