"""The light triple extractor in PyTorch: Su Jianlin's DGCNN of kg-2019 with the half-pointer,
half-tagging heads of 用bert4keras做三元组抽取 (kexue.fm/archives/7161).

Characters and positions are embedded (with word features, each character also adds its word's
frozen vector through a learned projection, kg-2019's mixed embedding), read by residual gated dilated convolutions (zhnlp.nn's
block; dilations 1, 2, 5 three times, then 1, 1, 1), and a self-attention layer feeds the subject
pointer: per character a start and an end probability (sigmoid, squared as the original). Given one
subject, a conditional LayerNorm (scale and shift from the subject's start and end vectors, through
zero-initialised layers) conditions the encoding, and the object pointer gives, per predicate, an
object start and end probability per character (sigmoid to the 4th power).

With distant supervision (``known_triples``, kg-2019's prior; known.py), the marks of the training
triples found in the sentence come in too: the found subjects' start and end marks are projected onto
the encoder's input and output, and, given a subject, its found objects' marks per predicate are
projected onto the conditioned encoding and shift that predicate's pointer logits. All of these start
at zero, so a model given the marks starts as the model without them (``--init``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..nn import GatedResidualStack
from .folder import TripleConfig


class ConditionalLayerNorm(nn.Module):
    """LayerNorm whose scale and shift move with a condition vector; the moves start at zero, so an
    untrained condition leaves a plain LayerNorm (bert4keras' LayerNormalization(conditional=True))."""

    def __init__(self, channels: int, condition: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.scale = nn.Linear(condition, channels, bias=False)
        self.shift = nn.Linear(condition, channels, bias=False)
        nn.init.zeros_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        # x: (B, T, C); condition: (B, D)
        return self.norm(x) * (1 + self.scale(condition)[:, None]) + self.shift(condition)[:, None]


class TripleModel(nn.Module):
    def __init__(self, config: TripleConfig):
        super().__init__()
        self.config = config
        c = config.embedding_dim
        self.embedding = nn.Embedding(config.vocab_size, c, padding_idx=0)
        self.positions = nn.Embedding(config.max_positions, c)
        if config.word_vocab_size:
            self.words = nn.Embedding(config.word_vocab_size, config.word_dim, padding_idx=0)
            self.words.weight.requires_grad_(False)  # the vectors' own space, as kg-2019 keeps its word2vec fixed
            self.word_projection = nn.Linear(config.word_dim, c, bias=False)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = GatedResidualStack(c, config.dilations, config.kernel_size, dropout=config.dropout)
        self.attention = nn.MultiheadAttention(c, config.attention_heads, batch_first=True)
        self.subject_head = nn.Linear(c, 2)
        self.condition = ConditionalLayerNorm(c, 2 * c)
        self.object_hidden = nn.Linear(c, c)
        self.object_head = nn.Linear(c, 2 * config.num_predicates)
        if config.known_triples:
            p = config.num_predicates
            self.known_input = nn.Linear(2, c, bias=False)  # subject marks onto the encoder's input
            self.known_output = nn.Linear(2, c, bias=False)  # and onto its output (a direct path to the pointers)
            self.known_objects = nn.Linear(2 * p, c, bias=False)  # object marks onto the conditioned encoding
            self.known_shift = nn.Parameter(torch.zeros(2 * p))  # and straight onto each pointer's logit
            for layer in (self.known_input, self.known_output, self.known_objects):
                nn.init.zeros_(layer.weight)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embedding

    def encode(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) character ids, or (B, T, K) columns: character ids, then word ids with word
        features, then the subject start and end marks with distant supervision; 0 = padding ->
        (encoding (B, T, C), mask (B, T))."""
        chars = input_ids[..., 0] if input_ids.ndim == 3 else input_ids  # (B, T)
        mask = chars != 0
        positions = torch.arange(chars.shape[1], device=chars.device)[None]
        x = self.embedding(chars) + self.positions(positions)  # (B, T, C)
        if self.config.word_vocab_size:
            x = x + self.word_projection(self.words(input_ids[..., 1]))
        if self.config.known_triples:
            marks = input_ids[..., -2:].to(x.dtype)  # (B, T, 2)
            x = x + self.known_input(marks)
        x = self.dropout(x)
        encoded = self.encoder(x, mask)
        if self.config.known_triples:
            encoded = encoded + self.known_output(marks)
        return encoded, mask

    def subject_probs(self, encoded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """-> (B, T, 2) start and end probabilities (squared sigmoids)."""
        attended, _ = self.attention(encoded, encoded, encoded, key_padding_mask=~mask, need_weights=False)
        return torch.sigmoid(self.subject_head(encoded + attended).float()) ** 2

    def object_probs(self, encoded: torch.Tensor, subject_spans: torch.Tensor,
                     known_objects: torch.Tensor | None = None) -> torch.Tensor:
        """subject_spans: (B, 2) start and end index of one subject per row; known_objects: (B, T, P,
        2) the marks of that subject's found objects (distant supervision) -> (B, T, P, 2)."""
        rows = torch.arange(len(encoded), device=encoded.device)
        condition = torch.cat([encoded[rows, subject_spans[:, 0]], encoded[rows, subject_spans[:, 1]]], dim=-1)
        conditioned = self.condition(encoded, condition)  # (B, T, C)
        if self.config.known_triples:
            known = known_objects.flatten(2).to(conditioned.dtype)  # (B, T, 2P)
            conditioned = conditioned + self.known_objects(known)
        logits = self.object_head(torch.relu(self.object_hidden(conditioned)))  # (B, T, 2P)
        if self.config.known_triples:
            logits = logits + known * self.known_shift
        logits = logits.view(*logits.shape[:2], self.config.num_predicates, 2)
        return torch.sigmoid(logits.float()) ** 4

    def forward(self, input_ids, subject_labels, subject_spans, object_labels, known_objects=None):
        """subject_labels: (B, T, 2) 0/1; subject_spans: (B, 2) the subject trained on; object_labels:
        (B, T, P, 2); known_objects: with distant supervision, as object_probs. Returns the loss
        (pointer_loss)."""
        return pointer_loss(self, input_ids, subject_labels, subject_spans, object_labels, known_objects)


def pointer_loss(model, input_ids, subject_labels, subject_spans, object_labels, known_objects=None) -> torch.Tensor:
    """The original's loss for any encoder with encode / subject_probs / object_probs: subject BCE
    averaged over its two channels, plus object BCE summed over predicates (averaged over start and
    end), both averaged over real tokens."""
    encoded, mask = model.encode(input_ids)
    subjects = model.subject_probs(encoded, mask).clamp(1e-7, 1 - 1e-7)
    given = () if known_objects is None else (known_objects,)
    objects = model.object_probs(encoded, subject_spans, *given).clamp(1e-7, 1 - 1e-7)
    bce = nn.functional.binary_cross_entropy
    subject_loss = bce(subjects, subject_labels.float(), reduction="none").mean(-1)  # (B, T)
    object_loss = bce(objects, object_labels.float(), reduction="none").mean(-1).sum(-1)  # (B, T)
    real = mask.float()
    return ((subject_loss * real).sum() + (object_loss * real).sum()) / real.sum()
