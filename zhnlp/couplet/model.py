"""The couplet model: character embedding, gated residual CNN, a softmax over characters at every
position (基于CNN和序列标注的对联机器人, kexue.fm/archives/6270).

Upper and lower lines have equal length and correspond position by position, so the lower line
is predicted by sequence labelling: one forward pass gives every position's distribution.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from ..nn import GatedResidualStack
from .folder import CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, CoupletConfig, read_folder


class CoupletModel(nn.Module):
    def __init__(self, config: CoupletConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = GatedResidualStack(config.embedding_dim, config.dilations, config.kernel_size)
        self.output = nn.Linear(config.embedding_dim, config.vocab_size)

    def encode(self, input_ids: torch.Tensor) -> torch.Tensor:
        # input_ids: (B, T), 0 = padding
        mask = input_ids != 0  # (B, T)
        x = self.dropout(self.embedding(input_ids))  # (B, T, C)
        return self.encoder(x, mask)  # (B, T, C)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None):
        # labels: (B, T), -100 where not scored
        logits = self.output(self.encode(input_ids))  # (B, T, V)
        if labels is None:
            return logits
        loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        return logits, loss

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embedding

    # ------------------------------------------------------------------ folders
    def save_pretrained(self, directory: str | os.PathLike, vocab: list[str],
                        dtype: torch.dtype = torch.float16) -> Path:
        """config.json, model.safetensors (half precision by default: half the size, the same
        answers; training checkpoints keep full precision) and vocab.txt, in ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in self.state_dict().items()}
        tmp = directory / f".{WEIGHTS_FILE}.tmp"
        save_file(state, str(tmp))
        os.replace(tmp, directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8")
        (directory / VOCAB_FILE).write_text("\n".join(vocab) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> tuple["CoupletModel", list[str]]:
        from safetensors.torch import load_file

        config, vocab = read_folder(directory)
        model = cls(config)
        model.load_state_dict(load_file(str(Path(directory) / WEIGHTS_FILE)))  # cast to the model's float32
        return model.eval(), vocab
