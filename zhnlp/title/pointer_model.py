"""The light title model in PyTorch (training, and decoding on CUDA): a seq2seq that copies.

玩转Keras之seq2seq自动生成标题 (kexue.fm/archives/5861) gives the frame: characters in, characters out,
a shared embedding, and a "prior" that lifts the source's characters in the output softmax, since a
title is written from its abstract's words. On it, See et al. 2017 ("Get To The Point"): attention
over the encoder, a copy gate mixing the vocabulary softmax with the attention (copying works for
characters outside the vocabulary too, through extended ids: encoding.py), and coverage, which
tells attention what it has already read. Optionally the self-terminating output of Welleck et al.
2020 (p(end) at step t >= 1 - (1 - eps)^t). The CPU runtime (pointer_numpy.py) computes the same step
in numpy from the same weights.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .folder import BANNED_OUTPUTS, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, PointerConfig


class PointerGenerator(nn.Module):
    def __init__(self, config: PointerConfig):
        super().__init__()
        self.config = config
        v, e, h = config.vocab_size, config.embedding_dim, config.hidden_size
        self.embedding = nn.Embedding(v, e, padding_idx=PAD_ID)
        self.dropout = nn.Dropout(config.dropout)
        # two directions as two LSTMs on right-padded batches (packed sequences' backward is slow on CPUs)
        self.encoder_forward = nn.LSTM(e, h // 2, batch_first=True)
        self.encoder_backward = nn.LSTM(e, h // 2, batch_first=True)  # reads each source reversed
        self.bridge_h = nn.Linear(h, h)  # mean of the encoder's states -> the decoder's first
        self.bridge_c = nn.Linear(h, h)
        self.decoder = nn.LSTM(e, h, batch_first=True)
        self.attention_query = nn.Linear(h, h, bias=False)  # score = (W s_t) . memory_i + w_c coverage_i
        self.coverage_weight = nn.Parameter(torch.zeros(1))
        self.combine = nn.Linear(2 * h, h)
        self.to_embedding = nn.Linear(h, e, bias=False)  # output logits through the (tied) embedding
        self.output_bias = nn.Parameter(torch.zeros(v))
        self.copy_gate = nn.Linear(2 * h + e, 1)  # p_gen from [s_t; context; input embedding]
        self.prior_scale = nn.Parameter(torch.ones(1))  # Su's prior: logit boost of source characters
        self.prior_shift = nn.Parameter(torch.zeros(v))
        self.keep = nn.Linear(h, 1)  # the self-terminating layer's "go on" score (used when epsilon > 0)
        self.log_one_minus_epsilon = math.log1p(-config.self_terminating_epsilon)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embedding

    # ------------------------------------------------------------------ pieces shared by training and decoding
    def encode(self, source_ids: torch.Tensor, source_extended: torch.Tensor) -> dict:
        """source_ids: (B, S), 0 = padding -> the decoder's starting state."""
        mask = source_ids != PAD_ID  # (B, S)
        lengths = mask.sum(1).clamp(min=1)
        x = self.dropout(self.embedding(source_ids))  # (B, S, E)
        forward, _ = self.encoder_forward(x)  # (B, S, H/2): exact at real positions, padding comes after them
        positions = torch.arange(source_ids.shape[1], device=source_ids.device)[None]
        reverse = torch.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)  # (B, S)
        index = reverse[..., None].expand(-1, -1, x.shape[-1])
        backward, _ = self.encoder_backward(x.gather(1, index))  # each source reversed within its length
        backward = backward.gather(1, reverse[..., None].expand(-1, -1, backward.shape[-1]))  # back in order
        memory = torch.cat([forward, backward], dim=-1)  # (B, S, H)
        pooled = (memory * mask[..., None]).sum(1) / lengths[:, None]  # (B, H)
        h0 = torch.tanh(self.bridge_h(pooled))  # (B, H)
        c0 = self.bridge_c(pooled)  # (B, H)
        bag = torch.zeros(source_ids.shape[0], self.config.vocab_size, device=source_ids.device)
        bag.scatter_(1, source_ids, 1.0)
        bag[:, :len(SPECIAL_TOKENS)] = 0.0  # the prior lifts characters, not padding, [UNK] or the task
        return {"memory": memory, "mask": mask, "extended": source_extended, "bag": bag, "h": h0, "c": c0,
                "coverage": torch.zeros(mask.shape, device=mask.device),
                "log_keep": torch.zeros(mask.shape[0], device=mask.device)}

    def attend(self, scores: torch.Tensor, mask: torch.Tensor, coverage: torch.Tensor):
        """scores: (B, S), (W s_t) . memory_i -> attention (B, S), coverage added."""
        if self.config.coverage:
            scores = scores + self.coverage_weight * coverage
        return torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)

    def output_hidden(self, decoder_state: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.tanh(self.combine(torch.cat([decoder_state, context], dim=-1))))  # (..., H)

    def vocab_logits(self, hidden: torch.Tensor, bag: torch.Tensor) -> torch.Tensor:
        """hidden: (B, [T,] H); bag: (B, V) -> (B, [T,] V)."""
        logits = self.to_embedding(hidden) @ self.embedding.weight.T + self.output_bias
        if self.config.source_prior:
            prior = bag * (self.prior_scale + self.prior_shift)  # (B, V)
            logits = logits + (prior[:, None] if logits.ndim == 3 else prior)
        return logits

    def _embed_targets(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids.masked_fill(ids >= self.config.vocab_size, UNK_ID))  # copied ids read as [UNK]

    # ------------------------------------------------------------------ training
    def forward(self, source_ids, source_extended, target_ids):
        """Teacher-forced loss. source_*: (B, S); target_ids: (B, T) extended ids ending in [EOS],
        0 = padding. Returns (loss, tokens)."""
        state = self.encode(source_ids, source_extended)
        memory, mask = state["memory"], state["mask"]
        bos = torch.full_like(target_ids[:, :1], SPECIAL_TOKENS.index("[BOS]"))
        inputs = torch.cat([bos, target_ids[:, :-1]], dim=1)  # (B, T)
        embedded = self.dropout(self._embed_targets(inputs))  # (B, T, E)
        decoded, _ = self.decoder(embedded, (state["h"][None], state["c"][None]))  # (B, T, H)
        scores = self.attention_query(decoded) @ memory.transpose(1, 2)  # (B, T, S)
        coverage = state["coverage"]
        attentions, coverage_losses = [], []
        for step_scores in scores.unbind(1):  # coverage makes attention sequential; the products are batched
            # (unbind, not scores[:, t]: a slice's backward would write a whole (B, T, S) zero tensor per step)
            attention = self.attend(step_scores, mask, coverage)  # (B, S)
            coverage_losses.append(torch.minimum(attention, coverage).sum(-1))  # (B,)
            attentions.append(attention)
            coverage = coverage + attention
        attention = torch.stack(attentions, dim=1)  # (B, T, S)
        context = attention @ memory  # (B, T, H)
        hidden = self.output_hidden(decoded, context)  # (B, T, H)
        p_vocab = torch.softmax(self.vocab_logits(hidden, state["bag"]).float(), dim=-1)  # (B, T, V)
        p_gen = torch.sigmoid(self.copy_gate(torch.cat([decoded, context, embedded], dim=-1))).squeeze(-1).float()
        in_vocab = target_ids < self.config.vocab_size
        gold_vocab = p_vocab.gather(-1, target_ids.clamp(max=self.config.vocab_size - 1)[..., None]).squeeze(-1)
        gold_vocab = gold_vocab * in_vocab
        same = (source_extended[:, None, :] == target_ids[..., None]) & mask[:, None, :]  # (B, T, S)
        gold_copy = (attention.float() * same).sum(-1)
        gold = p_gen * gold_vocab + (1 - p_gen) * gold_copy  # (B, T)
        log_gold = torch.log(gold.clamp(min=1e-12))
        if self.config.self_terminating_epsilon > 0:
            step_keep = self.log_one_minus_epsilon + nn.functional.logsigmoid(self.keep(hidden).squeeze(-1).float())
            cumulative = torch.cumsum(step_keep, dim=1)  # (B, T): log prod (1 - eps) a_s
            p_end = (p_gen * p_vocab[..., EOS_ID]).clamp(max=1 - 1e-6)
            log_rest = log_gold - torch.log1p(-p_end) + cumulative
            log_end = torch.log((-torch.expm1(cumulative)).clamp(min=1e-12))
            log_gold = torch.where(target_ids == EOS_ID, log_end, log_rest)
        scored = target_ids != PAD_ID
        tokens = scored.sum()
        loss = -(log_gold * scored).sum() / tokens
        if self.config.coverage and self.config.coverage_loss:
            loss = loss + self.config.coverage_loss * (torch.stack(coverage_losses, 1) * scored).sum() / tokens
        return loss, tokens

    # ------------------------------------------------------------------ decoding (the generation module's step)
    def step(self, tokens: torch.Tensor, state: dict, extended_size: int):
        """tokens: (N, t), the last one is new -> (log-probabilities (N, V + extended), state)."""
        embedded = self._embed_targets(tokens[:, -1:])  # (N, 1, E)
        decoded, (h, c) = self.decoder(embedded, (state["h"][None], state["c"][None]))
        s, embedded = decoded[:, 0], embedded[:, 0]  # (N, H), (N, E)
        scores = torch.einsum("nh,nsh->ns", self.attention_query(s), state["memory"])  # (N, S)
        attention = self.attend(scores, state["mask"], state["coverage"])
        context = torch.einsum("ns,nsh->nh", attention, state["memory"])  # (N, H)
        hidden = self.output_hidden(s, context)
        p_vocab = torch.softmax(self.vocab_logits(hidden, state["bag"]).float(), dim=-1)  # (N, V)
        p_gen = torch.sigmoid(self.copy_gate(torch.cat([s, context, embedded], dim=-1))).float()  # (N, 1)
        probs = torch.zeros(len(s), self.config.vocab_size + extended_size, device=s.device)
        probs[:, :self.config.vocab_size] = p_gen * p_vocab
        probs.scatter_add_(1, state["extended"], (1 - p_gen) * attention.float())
        probs[:, BANNED_OUTPUTS] = 0.0  # never padding, [UNK], [BOS] or a task token
        log_probs = torch.log(probs)
        log_keep = state["log_keep"]
        if self.config.self_terminating_epsilon > 0:
            log_keep = log_keep + self.log_one_minus_epsilon + nn.functional.logsigmoid(self.keep(hidden)[:, 0].float())
            p_end = probs[:, EOS_ID].clamp(max=1 - 1e-6)
            log_probs = log_probs - torch.log1p(-p_end)[:, None] + log_keep[:, None]
            log_probs[:, EOS_ID] = torch.log((-torch.expm1(log_keep)).clamp(min=1e-30))
        state = {**state, "h": h[0], "c": c[0], "coverage": state["coverage"] + attention, "log_keep": log_keep}
        return log_probs, state


def save_pointer(network: PointerGenerator, directory, vocab: list[str], training: dict | None = None,
                 dtype=torch.float16):
    """The light model's folder (folder.py); half precision by default: half the size, the same titles."""
    from .folder import write_folder

    weights = {k: v.detach().to("cpu", dtype).contiguous().numpy() for k, v in network.state_dict().items()}
    return write_folder(directory, network.config, vocab, weights, training)
