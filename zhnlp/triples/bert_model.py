"""Triple extraction on any BERT-architecture encoder (a char-level BERT or a WoBERT; folder or hub
id, offline first), as 用bert4keras做三元组抽取: the subject pointer on BERT's output, one subject's
start and end vectors conditioning a LayerNorm (bert4keras conditions the encoder's last LayerNorm;
here a conditional LayerNorm follows it, zero-initialised so that it starts as the identity of a
LayerNorm), the object pointers per predicate. Same heads, loss and decoding as the light model
(model.py, extract.py); spans map back to characters through the tokenizer's offsets."""
from __future__ import annotations

import torch
from torch import nn

from .model import ConditionalLayerNorm, pointer_loss


class BertTripleModel(nn.Module):
    def __init__(self, bert, num_predicates: int):
        super().__init__()
        self.bert = bert  # a transformers BertModel
        hidden = bert.config.hidden_size
        self.num_predicates = num_predicates
        self.subject_head = nn.Linear(hidden, 2)
        self.condition = ConditionalLayerNorm(hidden, 2 * hidden)
        self.object_head = nn.Linear(hidden, 2 * num_predicates)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.get_input_embeddings()

    def encode(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = input_ids != (self.bert.config.pad_token_id or 0)
        return self.bert(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state, mask

    def subject_probs(self, encoded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.subject_head(encoded).float()) ** 2  # (B, T, 2)

    def object_probs(self, encoded: torch.Tensor, subject_spans: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(len(encoded), device=encoded.device)
        condition = torch.cat([encoded[rows, subject_spans[:, 0]], encoded[rows, subject_spans[:, 1]]], dim=-1)
        logits = self.object_head(self.condition(encoded, condition))  # (B, T, 2P)
        return torch.sigmoid(logits.view(*logits.shape[:2], self.num_predicates, 2).float()) ** 4

    def forward(self, input_ids, subject_labels, subject_spans, object_labels):
        return pointer_loss(self, input_ids, subject_labels, subject_spans, object_labels)
