"""The decoder every autoregressive model shares (zhnlp/generation): it always stops, and flags a
cut; consistent top-k terminates where plain top-k does not; beam search is exact when wide enough;
a cached step gives what recomputing from scratch gives."""
from __future__ import annotations

import itertools
import math

import pytest

from zhnlp.generation import GenerationConfig, generate

from .conftest import needs_torch, optional_module

torch = optional_module("torch")
pytestmark = needs_torch
EOS = 0


def _table_model(table):
    """A step whose next-token logits depend on the last token only: table[last] (V,)."""
    weights = torch.tensor(table, dtype=torch.float32)  # (V, V)

    def step(tokens, state):
        return weights[tokens[:, -1]], state  # (N, V)

    return step


def test_a_model_that_ranks_the_end_token_last_stops_at_max_length_flagged():
    step = _table_model([[-50.0, 1.0, 2.0, 3.0]] * 4)  # EOS always far the least likely
    prefix = torch.tensor([[1], [2]])
    for config in (GenerationConfig(max_length=7), GenerationConfig(max_length=7, num_beams=3, num_return=2),
                   GenerationConfig(max_length=7, do_sample=True, seed=0, num_return=3)):
        for hypotheses in generate(step, prefix, EOS, config):
            assert hypotheses and all(h.truncated and len(h.tokens) == 7 for h in hypotheses)
            assert all(math.isfinite(h.score) for h in hypotheses)
    stops = _table_model([[5.0, 0.0, 0.0, 0.0]] * 4)  # EOS first: stops at once, not flagged
    [[only]] = generate(stops, torch.tensor([[1]]), EOS, GenerationConfig(max_length=7, min_length=0))
    assert only.tokens == [] and not only.truncated
    [[held]] = generate(stops, torch.tensor([[1]]), EOS, GenerationConfig(max_length=7, min_length=3))
    assert len(held.tokens) == 3 and not held.truncated  # min_length bans the end token before 3 tokens


def test_consistent_top_k_terminates_where_plain_top_k_runs_to_the_limit():
    # p(EOS) is about 4% at every step, but it is never among the 2 best tokens
    step = _table_model([[0.0, 3.0, 3.0, 1.0]] * 4)
    prefix = torch.tensor([[1]] * 40)
    consistent = generate(step, prefix, EOS, GenerationConfig(max_length=200, do_sample=True, top_k=2, seed=0))
    plain = generate(step, prefix, EOS, GenerationConfig(max_length=200, do_sample=True, top_k=2, seed=0,
                                                         consistent=False))
    assert sum(h[0].truncated for h in consistent) <= 2  # the expected length is about 25 tokens
    assert all(h[0].truncated and len(h[0].tokens) == 200 for h in plain)
    nucleus = generate(step, prefix, EOS, GenerationConfig(max_length=200, do_sample=True, top_p=0.5, seed=1))
    assert sum(h[0].truncated for h in nucleus) <= 2


def _brute_force_best(step, start, vocab, max_length, n):
    """Every sequence of up to max_length new tokens, ended by EOS or cut: the n best by log p."""
    found = []
    for length in range(0, max_length + 1):
        for body in itertools.product(range(1, vocab), repeat=length):
            tokens = [start, *body]
            score = 0.0
            for i in range(length + (length < max_length)):
                logits, _ = step(torch.tensor([tokens[:i + 1]]), None)
                log_probs = torch.log_softmax(logits[0], -1)
                nxt = body[i] if i < length else EOS
                score += float(log_probs[nxt])
            found.append((score, list(body), length == max_length))
    found.sort(key=lambda f: -f[0])
    return found[:n]


@pytest.mark.parametrize("seed", range(4))
def test_beam_search_wide_enough_is_the_exact_n_best(seed):
    generator = torch.Generator().manual_seed(seed)
    table = torch.randn(4, 4, generator=generator) * 2
    step = _table_model(table.tolist())
    best = _brute_force_best(step, 1, 4, 3, 3)
    [hypotheses] = generate(step, torch.tensor([[1]]), EOS,
                            GenerationConfig(max_length=3, min_length=0, num_beams=27, num_return=3, length_penalty=0))
    assert [(h.tokens, h.truncated) for h in hypotheses] == [(b[1], b[2]) for b in best]
    assert [h.score for h in hypotheses] == pytest.approx([b[0] for b in best], abs=1e-5)
    narrow = generate(step, torch.tensor([[1]]), EOS, GenerationConfig(max_length=3, min_length=0, num_beams=2,
                                                                       length_penalty=0))[0][0]
    assert narrow.score <= best[0][0] + 1e-6  # a narrow beam may miss the best, never beat it


class _TinyRecurrent(torch.nn.Module if torch else object):
    """A GRU language model: with a cache (its hidden state) or recomputing the whole prefix."""

    def __init__(self, cached: bool):
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(6, 8)
        self.gru = torch.nn.GRU(8, 8, batch_first=True)
        self.out = torch.nn.Linear(8, 6)
        self.cached = cached

    def step(self, tokens, state):  # the decoder runs it without gradients
        if self.cached and state is not None:  # only the last token is new
            output, hidden = self.gru(self.embedding(tokens[:, -1:]), state)
        else:
            output, hidden = self.gru(self.embedding(tokens))
        return self.out(output[:, -1]), hidden  # hidden: (layers, N, C)


def _gru_reorder(state, rows):
    return None if state is None else state.index_select(1, rows)  # (layers, N, C): rows on dim 1


@pytest.mark.parametrize("config", [GenerationConfig(max_length=12, min_length=0),
                                    GenerationConfig(max_length=12, min_length=0, num_beams=4, num_return=3),
                                    GenerationConfig(max_length=12, do_sample=True, seed=3, num_return=2,
                                                     top_p=0.9, no_repeat_ngram_size=2, repetition_penalty=1.3)])
def test_cached_and_uncached_decoding_give_the_same_tokens_and_scores(config):
    prefix = torch.tensor([[1, 2], [3, 4], [5, 1]])
    cached = _TinyRecurrent(True)
    fresh = _TinyRecurrent(False)
    fresh.load_state_dict(cached.state_dict())
    with_cache = generate(cached.step, prefix, EOS, config, reorder=_gru_reorder)
    without = generate(fresh.step, prefix, EOS, config, reorder=_gru_reorder)
    for a, b in zip(with_cache, without):
        assert [h.tokens for h in a] == [h.tokens for h in b] and [h.truncated for h in a] == [h.truncated for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)
        assert len(a) == config.num_return


def test_no_repeat_ngrams_and_bad_settings():
    step = _table_model([[-9.0, 5.0, 4.0, 0.0]] * 4)  # left alone it says 1 1 1 1 ...
    [[plain]] = generate(step, torch.tensor([[2]]), EOS, GenerationConfig(max_length=6))
    assert plain.tokens == [1] * 6
    [[varied]] = generate(step, torch.tensor([[2]]), EOS, GenerationConfig(max_length=6, no_repeat_ngram_size=2))
    pairs = list(zip(varied.tokens, varied.tokens[1:]))
    assert len(pairs) == len(set(pairs))
    from zhnlp.errors import InputError

    with pytest.raises(InputError):
        generate(step, torch.tensor([[2]]), EOS, GenerationConfig(num_beams=2, num_return=3))


def test_the_self_terminating_layer_bounds_the_end_probability_and_steps_like_a_whole_pass():
    from zhnlp.nn import SelfTerminatingOutput

    torch.manual_seed(0)
    layer = SelfTerminatingOutput(hidden_size=5, vocab_size=7, eos_id=EOS, epsilon=0.05)
    with torch.no_grad():
        layer.keep.bias.fill_(20.0)  # a model that never wants to stop
    hidden = torch.randn(3, 30, 5)
    log_probs, _ = layer(hidden)  # (3, 30, 7)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 30), atol=1e-5)
    bound = 1 - (1 - 0.05) ** torch.arange(1, 31, dtype=torch.float32)  # at least this at step t
    assert (log_probs[..., EOS].exp() >= bound - 1e-5).all()
    pieces, carried = [], None  # one position at a time, the running sum carried: the same
    for t in range(30):
        step, carried = layer(hidden[:, t:t + 1], carried)
        pieces.append(step)
    assert torch.allclose(torch.cat(pieces, dim=1), log_probs, atol=1e-5)
    # decoding with it ends: greedy on the layer's probabilities stops long before 200 tokens
    embedding = torch.nn.Embedding(7, 5)

    def step_fn(tokens, state):
        out, keep = layer(embedding(tokens[:, -1:]), state)
        return out[:, -1], keep

    hypotheses = generate(step_fn, torch.tensor([[3]] * 4), EOS, GenerationConfig(max_length=200, do_sample=True,
                                                                                 seed=0))
    assert all(not h[0].truncated and len(h[0].tokens) < 200 for h in hypotheses)
