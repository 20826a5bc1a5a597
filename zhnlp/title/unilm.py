"""UniLM on any BERT-architecture model (Dong et al. 2019; bert4keras examples/
task_seq2seq_autotitle_csl.py): one BERT reads ``[CLS] source [SEP] target [SEP]`` under the seq2seq
mask and its MLM head predicts each next target token.

- segment ids: 0 for ``[CLS] source [SEP]``, 1 for the target and its closing ``[SEP]`` (the end token);
- the seq2seq mask: a source position sees the source, a target position the source and the target
  up to itself (Su's form: with c the running sum of segment ids, position i sees j iff c_j <= c_i);
- the loss is on target tokens only (the position before each predicts it);
- the source is truncated to ``max_source_length`` tokens, its head kept;
- a char BERT's folder gets its own WordPiece tokenizer (transformers), a WoBERT folder zhnlp's
  WoBERT tokenizer (``hub.model_type_of``);
- decoding is KV-cached: the source is read once, each new token attends to the cached keys and
  values. The layers are run here from the BERT's own modules (embeddings, query/key/value, the
  output and feed-forward blocks), which tests check against transformers' forward.

A trained UniLM is a title folder: config.json (``model_type: title``, ``architecture: unilm``) beside
``bert/``, an ordinary transformers BERT folder with its tokenizer.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from ..wobert.model import load_tokenizer
from .folder import MODEL_TYPE
from .train import UNILM_TRAINING

BERT_SUBFOLDER = "bert"


@dataclass
class UniLMConfig:
    max_source_length: int = 256  # source tokens kept ([CLS] and [SEP] included); bert4keras' CSL example: 256
    max_target_length: int = 48  # title tokens, the end [SEP] included
    architecture: str = "unilm"
    model_type: str = field(default=MODEL_TYPE)

    @classmethod
    def from_dict(cls, data: dict) -> "UniLMConfig":
        from ..hub import config_from_dict

        return config_from_dict(cls, data, MODEL_TYPE)


def detokenize(tokens: list[str]) -> str:
    """Tokens to text: pieces joined, WordPiece's ## dropped (Chinese titles have no spaces)."""
    return "".join(t[2:] if t.startswith("##") else t for t in tokens)


class UniLM(nn.Module):
    def __init__(self, masked_lm, tokenizer, config: UniLMConfig | None = None):
        super().__init__()
        self.masked_lm = masked_lm  # a transformers BertForMaskedLM
        self.tokenizer = tokenizer
        self.config = config or UniLMConfig()
        bert_config = masked_lm.config
        if getattr(bert_config, "position_embedding_type", "absolute") != "absolute":
            raise InputError(f"UniLM here needs absolute position embeddings, not "
                             f"{bert_config.position_embedding_type!r}", "use a BERT/RoBERTa/WoBERT checkpoint")
        self.cls_id, self.sep_id = tokenizer.convert_tokens_to_ids("[CLS]"), tokenizer.convert_tokens_to_ids("[SEP]")
        self.pad_id = tokenizer.convert_tokens_to_ids("[PAD]")
        # what a title never holds: padding, [CLS], [UNK], [MASK] (the closing [SEP] is the end token)
        self.banned = sorted({tokenizer.convert_tokens_to_ids(t) for t in ("[PAD]", "[CLS]", "[UNK]", "[MASK]")}
                             - {self.sep_id, None})
        self.max_positions = bert_config.max_position_embeddings

    def get_input_embeddings(self) -> nn.Embedding:
        return self.masked_lm.get_input_embeddings()  # what FGM perturbs

    # ------------------------------------------------------------------ text to ids
    def token_ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def source_ids(self, text: str) -> list[int]:
        """[CLS] source [SEP], the source's head kept."""
        room = min(self.config.max_source_length, self.max_positions - self.config.max_target_length) - 2
        return [self.cls_id, *self.token_ids(text)[:max(room, 1)], self.sep_id]

    def decode(self, ids: list[int]) -> str:
        special = {self.cls_id, self.sep_id, self.pad_id}
        return detokenize(self.tokenizer.convert_ids_to_tokens([i for i in ids if i not in special]))

    # ------------------------------------------------------------------ the transformer, with a cache
    def run(self, input_ids, token_type_ids, position_ids, visible, past=None):
        """input_ids etc.: (B, L); visible: (B, L, K) bool, key k visible to query l, where the keys
        are the cached ones then these L. Returns (hidden states (B, L, H), the new cache); the MLM
        head (``masked_lm.cls``) is applied by the caller where a prediction is needed."""
        bert = self.masked_lm.bert
        x = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids)
        additive = torch.zeros(visible.shape, dtype=x.dtype, device=x.device).masked_fill(
            ~visible, torch.finfo(x.dtype).min)[:, None]  # (B, 1, L, K)
        cache = []
        for i, layer in enumerate(bert.encoder.layer):
            attention = layer.attention.self
            heads, size = attention.num_attention_heads, attention.attention_head_size

            def split(t):  # (B, L, H) -> (B, heads, L, size)
                return t.view(t.shape[0], t.shape[1], heads, size).transpose(1, 2)

            q, k, v = split(attention.query(x)), split(attention.key(x)), split(attention.value(x))
            if past is not None:
                k, v = torch.cat([past[i][0], k], dim=2), torch.cat([past[i][1], v], dim=2)
            cache.append((k, v))
            scores = q @ k.transpose(-1, -2) / math.sqrt(size) + additive  # (B, heads, L, K)
            probs = attention.dropout(torch.softmax(scores, dim=-1))
            context = (probs @ v).transpose(1, 2).reshape(x.shape)  # (B, L, H)
            attended = layer.attention.output(context, x)
            x = layer.output(layer.intermediate(attended), attended)
        return x, cache

    @staticmethod
    def seq2seq_visible(token_type_ids: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """(B, L) segment ids and real-token mask -> (B, L, L): j visible to i iff c_j <= c_i, c the
        running sum of segment ids (source: c = 0, seen by all; target: its own past), never padding."""
        running = torch.cumsum(token_type_ids, dim=1)  # (B, L)
        return (running[:, None, :] <= running[:, :, None]) & real[:, None, :]

    # ------------------------------------------------------------------ training
    def forward(self, input_ids, token_type_ids, labels):
        """input_ids: [CLS] source [SEP] target [SEP] (B, L), right-padded; labels: (B, L) the next
        token where the next is a target token, else -100. Returns (loss, target tokens)."""
        real = input_ids != self.pad_id
        visible = self.seq2seq_visible(token_type_ids, real)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None].expand_as(input_ids)
        hidden, _ = self.run(input_ids, token_type_ids, positions, visible)
        scored = labels != -100
        logits = self.masked_lm.cls(hidden[scored])  # (targets, V): the head only where the loss is
        loss = nn.functional.cross_entropy(logits.float(), labels[scored])
        return loss, scored.sum()

    def training_example(self, source: str, target: str) -> tuple[list[int], list[int], list[int]]:
        """(input ids, segment ids, labels) of one pair."""
        src = self.source_ids(source)
        tgt = [*self.token_ids(target)[:self.config.max_target_length - 1], self.sep_id]
        ids = src + tgt
        labels = [-100] * (len(src) - 1) + tgt + [-100]
        return ids, [0] * len(src) + [1] * len(tgt), labels

    # ------------------------------------------------------------------ decoding (the generation module's step)
    def start(self, sources: list[str]):
        """(prefix (B, Ls) right-padded [CLS] source [SEP], state) for ``zhnlp.generation.generate``."""
        rows = [self.source_ids(s) for s in sources]
        longest = max(map(len, rows))
        device = next(self.parameters()).device
        prefix = torch.full((len(rows), longest), self.pad_id, dtype=torch.long, device=device)
        for i, row in enumerate(rows):
            prefix[i, :len(row)] = torch.tensor(row)
        lengths = torch.tensor([len(r) for r in rows], device=device)
        return prefix, {"lengths": lengths, "source_length": torch.full_like(lengths, longest)}

    def _inputs(self, tokens, state, first: int):
        """Segment ids, positions and key visibility of columns ``first:`` of ``tokens`` (N, Ls + t)."""
        n, width = tokens.shape
        ls = int(state["source_length"][0])
        lengths = state["lengths"]  # (N,)
        columns = torch.arange(width, device=tokens.device)[None].expand(n, width)
        generated = columns >= ls
        types = generated.long()
        positions = torch.where(generated, lengths[:, None] + columns - ls, columns)
        real_key = (columns < lengths[:, None]) | generated  # (N, K): real source or generated
        query_generated = generated[:, first:, None]
        keys_before = columns[:, None, :] <= columns[:, first:, None]
        visible = real_key[:, None, :] & (~generated[:, None, :] | (query_generated & keys_before))
        return types[:, first:], positions[:, first:], visible  # a source query sees the real source only

    def step(self, tokens, state):
        """Cached: the first call reads the whole prefix, later ones only the newest token."""
        width = tokens.shape[1]
        past = state.get("past")
        first = 0 if past is None else width - 1
        types, positions, visible = self._inputs(tokens, state, first)
        hidden, cache = self.run(tokens[:, first:], types, positions, visible, past)
        return self._next(hidden, state, width), {**state, "past": cache}

    def _next(self, hidden, state, width: int):
        """The next token's logits (N, V): from the source's [SEP] before any token is generated, else
        from the last column; the banned tokens at -inf."""
        if width == int(state["source_length"][0]):
            hidden = hidden[torch.arange(len(hidden), device=hidden.device), state["lengths"] - 1]
        else:
            hidden = hidden[:, -1]
        logits = self.masked_lm.cls(hidden).float()
        return logits.index_fill(1, torch.tensor(self.banned, device=logits.device), -math.inf)

    def step_uncached(self, tokens, state):
        """The same prediction, recomputing every position (for tests and the benchmark's ratio)."""
        width = tokens.shape[1]
        types, positions, visible = self._inputs(tokens, state, 0)
        hidden, _ = self.run(tokens, types, positions, visible)
        return self._next(hidden, state, width), state

    # ------------------------------------------------------------------ folders
    def save_pretrained(self, directory: str | os.PathLike, training: dict | None = None) -> Path:
        import json

        from .. import __version__
        from ..outputs import write_text

        directory = Path(directory)
        bert_dir = directory / BERT_SUBFOLDER
        bert_dir.mkdir(parents=True, exist_ok=True)
        self.masked_lm.save_pretrained(bert_dir)
        self.tokenizer.save_pretrained(bert_dir)
        if not (bert_dir / "vocab.txt").is_file():  # transformers 5 writes tokenizer.json alone; zhnlp reads vocab.txt
            vocab = sorted(self.tokenizer.get_vocab().items(), key=lambda kv: kv[1])
            write_text(bert_dir / "vocab.txt", "".join(token + "\n" for token, _ in vocab))
        document = {**asdict(self.config), "zhnlp_version": __version__}
        if training is not None:
            document["training"] = training
        write_text(directory / "config.json", json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
        return directory

    @classmethod
    def from_bert(cls, name_or_path: str | os.PathLike, config: UniLMConfig | None = None) -> "UniLM":
        """A UniLM on a BERT folder or hub id (offline first), its tokenizer chosen by its kind."""
        from ..hub import resolve_model
        from ..wobert.model import load_masked_lm

        masked_lm = load_masked_lm(name_or_path, what="BERT model", example="bert-base-chinese")
        folder = resolve_model(name_or_path, required=("vocab.txt",), what="BERT tokenizer",
                               example="bert-base-chinese")
        tokenizer = load_tokenizer(folder)
        if len(tokenizer) > masked_lm.config.vocab_size:
            raise InputError(f"{name_or_path}: the tokenizer has {len(tokenizer)} tokens, the model "
                             f"{masked_lm.config.vocab_size}", "use the vocab.txt the model was trained with")
        return cls(masked_lm, tokenizer, config)

    @classmethod
    def from_folder(cls, directory: str | os.PathLike, document: dict) -> "UniLM":
        """A trained UniLM title folder (config.json + bert/)."""
        bert_dir = Path(directory) / BERT_SUBFOLDER
        if not bert_dir.is_dir():
            raise InputError(f"UniLM title folder {directory} lacks {BERT_SUBFOLDER}/",
                             "give a folder written by zhnlp train title --model BERT")
        return cls.from_bert(bert_dir, UniLMConfig.from_dict(document))


def unilm_batches(unilm: UniLM, pairs, batch_size: int, seed: int = 0, shuffle: bool = True):
    """Resumable, length-bucketed UniLM batches: input ids, segment ids and next-token labels."""
    import numpy as np

    from ..training import LengthBucketedBatches

    rows = [unilm.training_example(p.abstract, p.title) for p in pairs]

    def collate(indices):
        chosen = [rows[i] for i in indices]
        longest = max(len(r[0]) for r in chosen)
        ids = torch.full((len(chosen), longest), unilm.pad_id, dtype=torch.long)
        types = torch.zeros((len(chosen), longest), dtype=torch.long)
        labels = torch.full((len(chosen), longest), -100, dtype=torch.long)
        for i, (a, b, c) in enumerate(chosen):
            ids[i, :len(a)], types[i, :len(b)], labels[i, :len(c)] = torch.tensor(a), torch.tensor(b), torch.tensor(c)
        return {"input_ids": ids, "token_type_ids": types, "labels": labels}

    return LengthBucketedBatches(np.array([len(r[0]) for r in rows]), collate, batch_size, seed=seed, shuffle=shuffle,
                                 pool_batches=20)


def train_unilm(data, output_dir, model: str | os.PathLike, dev=None, dev_fraction: float = 0.2, split_seed: int = 0,
                trainer_config=None, batch_size: int = 16, epochs: int = 10, restart: bool = False, force: bool = False,
                show_progress: bool = True, encoding: str = "utf-8", max_source_length: int | None = None) -> dict:
    """UniLM fine-tuning of a BERT folder or hub id on title pairs; resumable in ``output_dir``.
    Kept by dev Rouge-L (greedy) once per epoch; exported as a title folder (config.json + bert/).
    Resuming starts from the checkpoint's weights (the BERT given is read for its shape and tokenizer)."""
    from ..optional import require

    require("torch", "zhnlp train title --model")
    require("transformers", "zhnlp train title --model")
    from ..training import Trainer, TrainerConfig, epoch_schedule, start_run
    from .train import _split, lead_k_of

    output_dir = Path(output_dir)
    start_run(output_dir, restart, force)
    config = UniLMConfig(**({"max_source_length": max_source_length} if max_source_length else {}))
    unilm = UniLM.from_bert(model, config)
    train_pairs, dev_pairs, _ = _split(data, dev, dev_fraction, split_seed, encoding)
    trainer_config = trainer_config or TrainerConfig(**UNILM_TRAINING)
    batches = unilm_batches(unilm, train_pairs, batch_size, seed=trainer_config.seed)
    epoch_schedule(trainer_config, len(batches), epochs, evaluate=bool(dev_pairs))

    def evaluate(trained):
        from ..generation import GenerationConfig, generate
        from .metrics import title_scores

        trained.eval()
        predictions = []
        for start in range(0, len(dev_pairs), 32):
            prefix, state = trained.start([p.abstract for p in dev_pairs[start:start + 32]])
            found = generate(trained.step, prefix, trained.sep_id, GenerationConfig(max_length=config.max_target_length),
                             state)
            predictions += [trained.decode(h[0].tokens) for h in found]
        trained.train()
        scores = title_scores(predictions, [p.title for p in dev_pairs])
        return {k: round(v, 2) for k, v in scores.items() if k in ("rouge-1", "rouge-2", "rouge-l", "bleu")}

    trainer = Trainer(unilm, trainer_config, output_dir,
                      export=lambda trained, directory: trained.save_pretrained(directory),
                      loss_fn=lambda m, b: m(b["input_ids"], b["token_type_ids"], b["labels"])[0],
                      show_progress=show_progress, model_config=asdict(config),
                      record={"split_seed": split_seed, "dev_fraction": dev_fraction, "lead_k": lead_k_of(train_pairs),
                              "base_model": str(model)})
    result = trainer.train(batches, evaluate=evaluate if dev_pairs else None)
    return {"output": str(output_dir), "steps": result.step, "epochs": round(result.step / len(batches), 2),
            "stopped_early": result.stopped_early, "seconds": round(result.seconds, 1),
            "examples_per_second": round(batch_size * (result.step - result.resumed_from) /
                                         max(result.training_seconds, 1e-9), 1),
            "best_dev_rouge_l": trainer.best, "device": trainer.setup.description,
            "train_pairs": len(train_pairs), "dev_pairs": len(dev_pairs),
            "parameters": sum(p.numel() for p in unilm.parameters())}
