"""The couplet model: character embedding, gated residual CNN, a softmax over characters at every
position (基于CNN和序列标注的对联机器人, kexue.fm/archives/6270).

Upper and lower lines have equal length and correspond position by position, so the lower line
is predicted by sequence labelling: one forward pass gives every position's distribution.
With ``context_buckets``, hashed windows of the upper line (contexts.py) add a learned context
vector to the CNN's output (and, with ``context_input``, to its input): the counting table's recall
of local phrases, learned into weights.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..nn import GatedResidualStack
from .contexts import context_ids
from .folder import CoupletConfig, load_weights, read_folder, resolve_folder, write_folder


class CoupletModel(nn.Module):
    def __init__(self, config: CoupletConfig, vocab: list[str] | None = None):
        super().__init__()
        self.config = config
        self.vocab = vocab  # the characters of the ids, when known (from_pretrained, training)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = GatedResidualStack(config.embedding_dim, config.dilations, config.kernel_size)
        self.output = nn.Linear(config.embedding_dim, config.vocab_size)
        if config.context_buckets:
            self.context_embedding = nn.Embedding(config.context_buckets, config.context_dim)
            nn.init.normal_(self.context_embedding.weight, std=0.02)  # small: the CNN leads at first
            self.context_output = nn.Linear(config.context_dim, config.embedding_dim, bias=False)
            self.context_dropout = nn.Dropout(config.context_dropout)
            if config.context_input:
                self.context_input = nn.Linear(config.context_dim, config.embedding_dim, bias=False)

    def contexts(self, input_ids: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) ids -> (B, T, D) context vectors: the sum of each position's hashed windows' rows.
        ``rows``: those windows' table rows (B, T, F), when the batch brings them (CoupletBatches
        computes them on the CPU, so that a GPU step waits for no copy back)."""
        if rows is None:
            rows = context_ids(input_ids.cpu().numpy(), self.config.context_windows, self.config.context_buckets)
            rows = torch.from_numpy(rows).to(input_ids.device)  # (B, T, F)
        return self.context_dropout(self.context_embedding(rows).sum(-2))  # (B, T, D)

    def encode(self, input_ids: torch.Tensor, context_ids: torch.Tensor | None = None) -> torch.Tensor:
        # input_ids: (B, T), 0 = padding; context_ids: (B, T, F) or None (computed here)
        mask = input_ids != 0  # (B, T)
        x = self.dropout(self.embedding(input_ids))  # (B, T, C)
        if not self.config.context_buckets:
            return self.encoder(x, mask)  # (B, T, C)
        context = self.contexts(input_ids, context_ids)  # (B, T, D)
        if self.config.context_input:
            x = x + self.context_input(context)
        hidden = self.encoder(x, mask) + self.context_output(context)  # (B, T, C)
        return hidden * mask.unsqueeze(-1).to(hidden.dtype)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None,
                context_ids: torch.Tensor | None = None):
        # labels: (B, T), -100 where not scored
        logits = self.output(self.encode(input_ids, context_ids))  # (B, T, V)
        if labels is None:
            return logits
        loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        return logits, loss

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embedding

    # ------------------------------------------------------------------ folders
    def save_pretrained(self, directory: str | os.PathLike, vocab: list[str] | None = None,
                        dtype: torch.dtype = torch.float16, training: dict | None = None) -> Path:
        """config.json, model.safetensors (half precision by default: half the size, the same
        answers; training checkpoints keep full precision) and vocab.txt, in ``directory``.
        ``vocab``: default the one the model was loaded with; ``training``: the training config,
        recorded in config.json."""
        vocab = vocab if vocab is not None else self.vocab
        if vocab is None:
            raise ValueError("save_pretrained needs the vocabulary: give vocab=")
        weights = {k: v.detach().to("cpu", dtype).contiguous().numpy() for k, v in self.state_dict().items()}
        return write_folder(directory, self.config, vocab, weights, training)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None) -> "CoupletModel":
        """The model of a couplet folder (None: the shipped one), its vocabulary in ``.vocab``."""
        directory = resolve_folder(name_or_path)
        config, vocab = read_folder(directory)
        model = cls(config, vocab)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in load_weights(directory, config).items()})
        return model.eval()
