"""Training and evaluating title models on the shared training stack.

``train_title`` trains the light copying seq2seq (pointer_model.py) by default, or UniLM on a BERT
folder (``model=``). The light model learns titles together with two in-domain tasks (pretraining.py)
and is kept by its dev Rouge-L under greedy decoding, evaluated once per epoch; the dev split is
carved from the data with a fixed seed unless ``dev=`` gives one. ``evaluate_title`` scores a model
folder as the published CSL figures are scored, with Lead-k on the same lines.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from .data import TitlePair, dev_split, read_title_pairs
from .folder import SPECIAL_TOKENS, PointerConfig

TASK_IDS = {name: SPECIAL_TOKENS.index(f"[{name.upper()}]") for name in ("title", "denoise", "keywords")}
MODEL_FLAGS = {"embedding_dim": "--embedding-dim", "hidden_size": "--hidden-size",
               "max_source_length": "--max-source-length", "self_terminating_epsilon": "--self-terminating"}
# chosen on dev: with EMA (0.998) and lr 1e-3 greedy Rouge-L peaked at 43.5, against 40.7 without EMA at
# Su's 2e-3; patience counts epochs (one evaluation each)
LIGHT_TRAINING = dict(max_steps=0, lr=1e-3, warmup_steps=200, weight_decay=0.0, save_every=200, metric="rouge-l",
                      patience=4, grad_clip=2.0, ema_decay=0.998)
UNILM_TRAINING = dict(max_steps=0, lr=2e-5, warmup_steps=100, weight_decay=0.01, save_every=200, metric="rouge-l",
                      patience=2)  # bert4keras' CSL example: Adam 1e-5..2e-5, a few epochs


def title_batches(examples: list[tuple[int, str, str]], vocab, config: PointerConfig, batch_size: int,
                  seed: int = 0, shuffle: bool = True):
    """Resumable, length-bucketed batches of (task, source, target) examples for the light model:
    source ids, their extended ids, target extended ids ending in [EOS]."""
    import numpy as np

    from ..training import LengthBucketedBatches
    from .encoding import pad

    encoded = []
    for task, source, target in examples:
        ids, extended, oovs = vocab.encode_source(source, task, config.max_source_length)
        encoded.append((ids, extended, vocab.encode_target(target, oovs, config.max_target_length)))

    def collate(indices):
        import torch

        rows = [encoded[i] for i in indices]
        return {"source_ids": torch.from_numpy(pad([r[0] for r in rows])),
                "source_extended": torch.from_numpy(pad([r[1] for r in rows])),
                "target_ids": torch.from_numpy(pad([r[2] for r in rows]))}

    return LengthBucketedBatches(np.array([len(e[0]) for e in encoded]), collate, batch_size, seed=seed,
                                 shuffle=shuffle, pool_batches=20)


def lead_k_of(pairs: list[TitlePair]) -> int:
    """The Lead-k baseline's k, chosen on (training) pairs."""
    from .metrics import best_lead_k

    return best_lead_k([p.abstract for p in pairs], [p.title for p in pairs])


def light_trainer_config(**overrides):
    from ..training import TrainerConfig

    return TrainerConfig(**{**LIGHT_TRAINING, **{k: v for k, v in overrides.items() if v is not None}})


def _split(data, dev, dev_fraction: float, seed: int, encoding: str) -> tuple[list[TitlePair], list[TitlePair], list[int]]:
    """(train pairs, dev pairs, the data-file indices of the train pairs)."""
    pairs = read_title_pairs(data, encoding)
    if dev is not None:
        return pairs, read_title_pairs(dev, encoding), list(range(len(pairs)))
    if dev_fraction <= 0:
        return pairs, [], list(range(len(pairs)))
    train, held = dev_split(pairs, dev_fraction, seed)
    held_ids = {id(p) for p in held}
    return train, held, [i for i, p in enumerate(pairs) if id(p) not in held_ids]


def train_title(data: str | os.PathLike, output_dir: str | os.PathLike, model: str | None = None,
                dev: str | os.PathLike | None = None, dev_fraction: float = 0.2, split_seed: int = 0,
                titles: str | os.PathLike | None = None, keywords: str | os.PathLike | None = None,
                vectors: str | os.PathLike | None = None, config: PointerConfig | dict | None = None,
                trainer_config=None, batch_size: int = 32, epochs: int = 30, title_repeats: int = 4,
                restart: bool = False, force: bool = False, show_progress: bool = True, encoding: str = "utf-8",
                **unilm_options) -> dict:
    """Train a title model on ``data`` (abstract<TAB>title lines, or CSL's 3 columns); resumable in
    ``output_dir``. ``model``: a BERT folder or hub id for UniLM (unilm.py); None: the light model.
    ``dev``: a dev file (default: ``dev_fraction`` of the data drawn with ``split_seed``; 0 trains on
    all of it and keeps the last epoch). ``titles``: other titles for the denoising task;
    ``keywords``: keywords aligned with ``data`` for the keyword task; ``vectors``: a vectors folder
    (zhnlp vectors train) for the embedding. ``title_repeats``: each title pair is seen this many times
    an epoch, against once for each auxiliary example."""
    if model is not None:
        from .unilm import train_unilm

        return train_unilm(data, output_dir, model, dev=dev, dev_fraction=dev_fraction, split_seed=split_seed,
                           trainer_config=trainer_config, batch_size=batch_size, epochs=epochs or 10, restart=restart,
                           force=force, show_progress=show_progress, encoding=encoding, **unilm_options)
    from ..optional import require

    require("torch", "zhnlp train title")
    from ..outputs import write_text
    from ..training import Trainer, epoch_schedule, resume_model_config, seed_everything, start_run
    from .encoding import CharVocab, build_vocab
    from .folder import VOCAB_FILE, read_vocab
    from .pointer_model import PointerGenerator
    from .pretraining import noised_titles, read_keywords, read_titles

    output_dir = Path(output_dir)
    resuming = start_run(output_dir, restart, force)
    given = asdict(config) if isinstance(config, PointerConfig) else dict(config or {})
    for key in ("vocab_size", "model_type", "architecture"):
        given.pop(key, None)
    saved = resume_model_config(output_dir, given, MODEL_FLAGS)
    config = PointerConfig.from_dict(saved if saved is not None else given)
    trainer_config = trainer_config or light_trainer_config()
    train_pairs, dev_pairs, train_rows = _split(data, dev, dev_fraction, split_seed, encoding)
    examples = [(TASK_IDS["title"], p.abstract, p.title) for p in train_pairs] * title_repeats
    other_titles = read_titles(titles, encoding) if titles else []
    if other_titles:
        abstracts = [p.abstract for p in train_pairs]
        examples += [(TASK_IDS["denoise"], s, t) for s, t in noised_titles(other_titles, abstracts, trainer_config.seed)]
    if keywords:
        every = read_keywords(keywords, len(read_title_pairs(data, encoding)), encoding)
        examples += [(TASK_IDS["keywords"], train_pairs[j].abstract, every[i])
                     for j, i in enumerate(train_rows) if every[i]]
    vocab_file = output_dir / VOCAB_FILE
    if resuming and vocab_file.is_file():
        tokens = read_vocab(output_dir, len(vocab_file.read_text(encoding="utf-8").split("\n")) - 1)
    else:
        tokens = build_vocab([text for _, s, t in examples for text in (s, t)])
        output_dir.mkdir(parents=True, exist_ok=True)
        write_text(vocab_file, "\n".join(tokens) + "\n")
    vocab = CharVocab(tokens)
    config.vocab_size = len(tokens)
    seed_everything(trainer_config.seed)
    network = PointerGenerator(config)
    fill_report = None
    if vectors and not resuming:
        import torch

        from ..vectors import Vectors

        with torch.no_grad():
            fill_report = str(Vectors.from_pretrained(vectors).fill(network.embedding.weight, tokens))
    batches = title_batches(examples, vocab, config, batch_size, seed=trainer_config.seed)
    epoch_schedule(trainer_config, len(batches), epochs, evaluate=bool(dev_pairs))

    def evaluate(trained):
        return _greedy_dev_scores(trained, vocab, dev_pairs, config, trainer.setup.device)

    def export(trained, directory):
        from .pointer_model import save_pointer

        save_pointer(trained, directory, tokens, training={**asdict(trainer_config), "batch_size": batch_size,
                                                           "title_repeats": title_repeats, "dev_fraction": dev_fraction,
                                                           "split_seed": split_seed, "vectors": fill_report,
                                                           "examples": len(examples)})

    trainer = Trainer(network, trainer_config, output_dir, export=export, model_config=asdict(config),
                      loss_fn=lambda m, b: m(b["source_ids"], b["source_extended"], b["target_ids"])[0],
                      show_progress=show_progress, record={"split_seed": split_seed, "dev_fraction": dev_fraction,
                                                           "lead_k": lead_k_of(train_pairs)})
    result = trainer.train(batches, evaluate=evaluate if dev_pairs else None)
    return {"output": str(output_dir), "steps": result.step, "epochs": round(result.step / len(batches), 2),
            "stopped_early": result.stopped_early, "seconds": round(result.seconds, 1),
            "examples_per_second": round(batch_size * (result.step - result.resumed_from) /
                                         max(result.training_seconds, 1e-9), 1),
            "best_dev_rouge_l": trainer.best, "device": trainer.setup.description, "examples": len(examples),
            "train_pairs": len(train_pairs), "dev_pairs": len(dev_pairs), "vectors": fill_report,
            "parameters": sum(p.numel() for p in network.parameters())}


def _greedy_dev_scores(network, vocab, dev_pairs, config, device) -> dict:
    from ..generation import GenerationConfig
    from .light import pointer_titles
    from .metrics import title_scores

    network.eval()
    found = pointer_titles(network, vocab, [p.abstract for p in dev_pairs], GenerationConfig(max_length=config.max_target_length),
                           config.max_source_length, batch_size=100, device=device)
    network.train()
    scores = title_scores([f[0][0][0] for f in found], [p.title for p in dev_pairs])
    return {k: round(v, 2) for k, v in scores.items() if k in ("rouge-1", "rouge-2", "rouge-l", "bleu")}


def evaluate_title(model: str | os.PathLike | None, data: str | os.PathLike, device: str = "auto",
                   num_beams: int | None = None, batch_size: int = 32, lead_k: int | None = None,
                   limit: int | None = None, encoding: str = "utf-8", show_progress: bool = False,
                   **generation) -> dict:
    """Rouge-1/2/L and BLEU of a model folder's titles for ``data`` (all of it: give a dev or test
    file), computed as the published CSL figures are (metrics.py), with Lead-k on the same lines.
    ``lead_k``: default the k chosen on the model's training pairs (its training.json), else 35."""
    import time

    from .generator import DEFAULT_BEAMS, TitleGenerator
    from .metrics import lead_k as lead
    from .metrics import title_scores

    pairs = read_title_pairs(data, encoding)[:limit]
    generator = TitleGenerator.from_pretrained(model, device=device)
    start = time.perf_counter()
    results = generator.generate([p.abstract for p in pairs], num_beams=num_beams or DEFAULT_BEAMS,
                                 batch_size=batch_size, show_progress_bar=show_progress, **generation)
    seconds = time.perf_counter() - start
    references = [p.title for p in pairs]
    k = lead_k or _trained_lead_k(model) or 35
    scores = title_scores([r.title for r in results], references)
    baseline = title_scores([lead(p.abstract, k) for p in pairs], references)
    return {"model": {name: round(v, 2) for name, v in scores.items() if name not in ("n", "empty")},
            f"lead-{k}": {name: round(v, 2) for name, v in baseline.items() if name not in ("n", "empty")},
            "n": len(pairs), "empty": scores["empty"], "truncated": sum(r.truncated for r in results),
            "num_beams": num_beams or DEFAULT_BEAMS, "device": generator.device,
            "titles_per_second": round(len(pairs) / max(seconds, 1e-9), 1)}


def _trained_lead_k(model) -> int | None:
    import json

    from .folder import resolve_folder

    path = resolve_folder(model) / "training.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("lead_k")
    except (OSError, ValueError, AttributeError):
        return None
