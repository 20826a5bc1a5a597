"""The light title model's CPU runtime in numpy: the same encoder and decoder step as
pointer_model.py, computed from the same weights, so that ``zhnlp title`` answers without importing
torch (an import that alone takes longer than the 2 s a cold title may take here). Tested equal to
the PyTorch module to 1e-4."""
from __future__ import annotations

import numpy as np

from ..nn_numpy import sigmoid as _sigmoid
from .folder import BANNED_OUTPUTS, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, PointerConfig


def _lstm(projected: np.ndarray, recurrent: np.ndarray, mask: np.ndarray):
    """One LSTM direction (PyTorch's gate order i, f, g, o) over (B, S, 4h) projected inputs;
    padding after a row's last real position gives 0. -> outputs (B, S, h)."""
    batch, length, four = projected.shape
    size = four // 4
    h = np.zeros((batch, size), dtype=np.float32)
    c = np.zeros((batch, size), dtype=np.float32)
    outputs = np.zeros((batch, length, size), dtype=np.float32)
    for t in range(length):
        gates = projected[:, t] + h @ recurrent  # (B, 4h)
        i, f, g, o = _sigmoid(gates[:, :size]), _sigmoid(gates[:, size:2 * size]), np.tanh(gates[:, 2 * size:3 * size]), \
            _sigmoid(gates[:, 3 * size:])
        new_c = f * c + i * g
        new_h = o * np.tanh(new_c)
        real = mask[:, t:t + 1]
        c, h = np.where(real, new_c, c), np.where(real, new_h, h)
        outputs[:, t] = new_h * real
    return outputs


class _Source:
    """What every row of one article shares while decoding (not reordered with the beams)."""

    def __init__(self, memory, mask, extended, prior):
        self.memory, self.mask, self.extended, self.prior = memory, mask, extended, prior


class NumpyPointerGenerator:
    def __init__(self, config: PointerConfig, weights: dict[str, np.ndarray]):
        self.config = config
        w = weights
        self.embedding = w["embedding.weight"]  # (V, E)
        self.encoder = [(w[f"encoder_{d}.weight_ih_l0"].T.copy(), w[f"encoder_{d}.weight_hh_l0"].T.copy(),
                         w[f"encoder_{d}.bias_ih_l0"] + w[f"encoder_{d}.bias_hh_l0"]) for d in ("forward", "backward")]
        self.bridge = [(w[f"bridge_{k}.weight"].T.copy(), w[f"bridge_{k}.bias"]) for k in ("h", "c")]
        # the decoder's input product for every token at once, biases included: a lookup per step
        self.decoder_inputs = self.embedding @ w["decoder.weight_ih_l0"].T + (w["decoder.bias_ih_l0"] +
                                                                              w["decoder.bias_hh_l0"])  # (V, 4H)
        self.decoder_recurrent = w["decoder.weight_hh_l0"].T.copy()
        self.query = w["attention_query.weight"].T.copy()
        self.coverage_weight = float(w["coverage_weight"][0]) if config.coverage else 0.0
        self.combine = (w["combine.weight"].T.copy(), w["combine.bias"])
        self.to_embedding = w["to_embedding.weight"].T.copy()  # (H, E)
        self.output = self.embedding.T.copy()  # (E, V): the tied output matrix
        self.output_bias = w["output_bias"]
        self.copy_gate = (w["copy_gate.weight"][0], float(w["copy_gate.bias"][0]))
        self.prior = (float(w["prior_scale"][0]) + w["prior_shift"]) if config.source_prior else None  # (V,)
        self.keep = (w["keep.weight"][0], float(w["keep.bias"][0]))
        self.log_one_minus_epsilon = float(np.log1p(-config.self_terminating_epsilon))

    def encode(self, source_ids: np.ndarray, source_extended: np.ndarray) -> dict:
        """(B, S) ids -> the decoder's starting state (as PointerGenerator.encode, in eval mode)."""
        mask = source_ids != PAD_ID  # (B, S)
        lengths = np.maximum(mask.sum(1), 1)
        x = self.embedding[source_ids]  # (B, S, E)
        (w_f, u_f, b_f), (w_b, u_b, b_b) = self.encoder
        forward = _lstm(x @ w_f + b_f, u_f, mask)
        positions = np.arange(source_ids.shape[1])[None, :]
        reverse = np.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)  # (B, S)
        rows = np.arange(len(source_ids))[:, None]
        backward = _lstm((x @ w_b + b_b)[rows, reverse], u_b, mask)
        memory = np.concatenate([forward, backward[rows, reverse]], axis=-1)  # (B, S, H), 0 at padding
        pooled = (memory.sum(1) / lengths[:, None]).astype(np.float32)  # float32 throughout: a float64 row would
        # make every product convert its weight matrix
        (wh, bh), (wc, bc) = self.bridge
        h = np.tanh(pooled @ wh + bh)
        c = pooled @ wc + bc
        prior = None
        if self.prior is not None:
            bag = np.zeros((len(source_ids), self.config.vocab_size), dtype=np.float32)
            bag[rows, source_ids] = 1.0
            bag[:, :len(SPECIAL_TOKENS)] = 0.0
            prior = bag * self.prior  # (B, V)
        return {"h": h, "c": c, "coverage": np.zeros(mask.shape, dtype=np.float32),
                "log_keep": np.zeros(len(source_ids), dtype=np.float32), "origin": np.arange(len(source_ids)),
                "source": _Source(memory, mask, source_extended, prior)}

    def step(self, tokens: np.ndarray, state: dict, extended_size: int):
        """tokens: (N, t), the last one new -> (log-probabilities (N, V + extended), state)."""
        source, origin = state["source"], state["origin"]
        vocab = self.config.vocab_size
        last = tokens[:, -1]
        read = np.where(last >= vocab, UNK_ID, last)  # a copied unknown character is read as [UNK]
        embedded = self.embedding[read]  # (N, E)
        gates = self.decoder_inputs[read] + state["h"] @ self.decoder_recurrent  # (N, 4H)
        size = gates.shape[1] // 4
        i, f, g, o = _sigmoid(gates[:, :size]), _sigmoid(gates[:, size:2 * size]), np.tanh(gates[:, 2 * size:3 * size]), \
            _sigmoid(gates[:, 3 * size:])
        c = f * state["c"] + i * g
        s = o * np.tanh(c)  # (N, H)
        query = s @ self.query  # (N, H)
        rows, inputs = len(s), len(source.memory)
        grouped = rows % inputs == 0 and np.array_equal(origin, np.arange(rows) // (rows // inputs))
        if grouped:  # beams of one article side by side: one batched product, no copy of the memory
            k = rows // inputs
            scores = np.matmul(query.reshape(inputs, k, -1), source.memory.transpose(0, 2, 1)).reshape(rows, -1)
        else:
            scores = np.einsum("nh,nsh->ns", query, source.memory[origin])
        scores = scores + self.coverage_weight * state["coverage"]
        scores = np.where(source.mask[origin], scores, -1e9)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = (scores / scores.sum(-1, keepdims=True)).astype(np.float32)  # (N, S)
        if grouped:
            context = np.matmul(attention.reshape(inputs, k, -1), source.memory).reshape(rows, -1)
        else:
            context = np.einsum("ns,nsh->nh", attention, source.memory[origin])  # (N, H)
        wc, bc = self.combine
        hidden = np.tanh(np.concatenate([s, context], -1) @ wc + bc)
        logits = (hidden @ self.to_embedding) @ self.output + self.output_bias  # (N, V)
        if source.prior is not None:
            logits = logits + source.prior[origin]
        gate_w, gate_b = self.copy_gate
        p_gen = _sigmoid(np.concatenate([s, context, embedded], -1) @ gate_w + gate_b)[:, None]  # (N, 1)
        # log(p_gen p_vocab) for every column in log space (no division or log over (N, V)); then the
        # columns the source has get their copy mass added: log(p_gen p_vocab + copy) at those only
        logits -= logits.max(-1, keepdims=True)
        exp = np.exp(logits)
        normaliser = exp.sum(-1, keepdims=True)  # (N, 1)
        width = vocab + extended_size
        log_probs = np.full((rows, width), -np.inf, dtype=np.float32)
        log_probs[:, :vocab] = logits - (np.log(normaliser) - np.log(p_gen))
        extended = source.extended[origin]  # (N, S)
        row_index = np.arange(rows)[:, None]
        copy = np.bincount((row_index * width + extended).ravel(), weights=((1 - p_gen) * attention).ravel(),
                           minlength=rows * width)  # (N width,): each column's copy mass
        in_vocab = extended < vocab
        generated = np.where(in_vocab, exp[row_index, np.minimum(extended, vocab - 1)] / normaliser * p_gen, 0.0)
        with np.errstate(divide="ignore"):
            log_probs[row_index, extended] = np.log(generated + copy[row_index * width + extended])
        log_probs[:, BANNED_OUTPUTS] = -np.inf  # never padding, [UNK], [BOS] or a task token
        log_keep = state["log_keep"]
        if self.config.self_terminating_epsilon > 0:
            keep_w, keep_b = self.keep
            log_keep = log_keep + self.log_one_minus_epsilon - np.logaddexp(0.0, -(hidden @ keep_w + keep_b))
            p_end = np.minimum(np.exp(log_probs[:, EOS_ID]), 1 - 1e-6)
            log_probs = log_probs - np.log1p(-p_end)[:, None] + log_keep[:, None]
            log_probs[:, EOS_ID] = np.log(np.maximum(-np.expm1(log_keep), 1e-30))
        return log_probs, {**state, "h": s, "c": c, "coverage": state["coverage"] + attention, "log_keep": log_keep}
