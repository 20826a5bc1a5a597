"""Training and evaluating the light triple extractor on the shared training stack.

Each training sentence is labelled with the first occurrence of every gold subject (start and end
pointers) and, for one subject drawn per sentence per batch, its objects per predicate. The subject
trained on is drawn as the original draws it: a random start among the gold subjects' starts and a
random end at or after it among their ends, so that a start and end of different subjects make a
negative (no objects). Kept by dev F1 (exact match), evaluated with the EMA's weights.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import InputError
from .data import Sentence, Triple, read_schema, read_sentences
from .folder import PAD, UNK, WORDS_FILE, TripleConfig

# lr 1e-3 as Su's extraction recipe; his EMA 0.999 averages over 1,000 steps, 7 epochs of these 8,458 sentences
# (dev F1 still 0 after two), so 0.995 (200 steps, about one epoch at batch 32)
TRIPLES_TRAINING = dict(max_steps=0, lr=1e-3, warmup_steps=200, weight_decay=0.0, save_every=500, metric="f1",
                        patience=4, ema_decay=0.995)
MODEL_FLAGS = {"embedding_dim": "--width", "dilations": "--dilations", "known_triples": "--known-triples"}
# distant supervision's projections start at zero and see a mark on few characters: a larger step
KNOWN_LR_SCALE = 10.0


def build_vocab(sentences: list[Sentence], min_count: int = 2) -> list[str]:
    counts = Counter(ch for s in sentences for ch in s.text)
    return [PAD, UNK, *(ch for ch, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count)]


def label(sentence: Sentence, predicate_index: dict[str, int], spans: list[tuple[int, int]]):
    """{subject token span: [(object start, object end, predicate id)]} in token indices, end
    inclusive, from the first occurrences of subject and object (as the original's search);
    ``spans``: each token's character span. A triple a tokenizer cannot align is left out."""
    token_of = {}
    for index, (a, b) in enumerate(spans):
        for char in range(a, b):
            token_of.setdefault(char, index)
    spoes: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for triple in sentence.triples:
        s, o = sentence.text.find(triple.subject), sentence.text.find(triple.object)
        ends = (s + len(triple.subject) - 1, o + len(triple.object) - 1)
        tokens = [token_of.get(c) for c in (s, ends[0], o, ends[1])] if s >= 0 and o >= 0 else [None]
        if None in tokens:
            continue
        spoes.setdefault((tokens[0], tokens[1]), []).append((tokens[2], tokens[3], predicate_index[triple.predicate]))
    return spoes


def triple_batches(sentences, pieces_of, predicates, batch_size: int, seed: int = 0, shuffle: bool = True,
                   known=None):
    """Resumable, length-bucketed batches in the model's units (``pieces_of``: extract.CharPieces or
    TokenizerPieces); the subject each sentence trains on is drawn from a generator seeded by the
    batch (the same batch draws the same subject after a resume). ``known``: with distant
    supervision, each sentence's dictionary (known.cross_fitted) for its marks. Returns (batches,
    sentences left out as longer than the model reads)."""
    import torch

    from ..training import LengthBucketedBatches

    predicate_index = {p: i for i, p in enumerate(predicates)}
    kept = [(s, None if known is None else known[i]) for i, s in enumerate(sentences)
            if len(s.text) <= pieces_of.max_chars]
    encoded = []
    for sentence, dictionary in kept:
        ids, spans = pieces_of(sentence.text) if dictionary is None else pieces_of(sentence.text, dictionary)
        encoded.append((np.asarray(ids, dtype=np.int64), label(sentence, predicate_index, spans), sentence.text,
                        dictionary))

    def collate(indices):
        rng = np.random.default_rng([seed, *map(int, indices)])
        longest = max(len(encoded[i][0]) for i in indices)
        ids = torch.zeros((len(indices), longest, *encoded[indices[0]][0].shape[1:]), dtype=torch.long)
        subject_labels = torch.zeros((len(indices), longest, 2))
        subject_spans = torch.zeros((len(indices), 2), dtype=torch.long)
        object_labels = torch.zeros((len(indices), longest, len(predicates), 2))
        known_objects = None if known is None else torch.zeros_like(object_labels)
        for row, i in enumerate(indices):
            chars, spoes, text, dictionary = encoded[i]
            ids[row, :len(chars)] = torch.from_numpy(chars)
            if not spoes:
                continue
            for s, e in spoes:
                subject_labels[row, s, 0] = subject_labels[row, e, 1] = 1
            starts = np.array(sorted({s for s, _ in spoes}))
            ends = np.array(sorted({e for _, e in spoes}))
            start = int(rng.choice(starts))
            after = ends[ends >= start]
            end = int(rng.choice(after)) if len(after) else start
            subject_spans[row] = torch.tensor([start, end])
            for o_start, o_end, p in spoes.get((start, end), []):
                object_labels[row, o_start, p, 0] = object_labels[row, o_end, p, 1] = 1
            if dictionary is not None:  # characters are the tokens (distant supervision is the light model's)
                marks = dictionary.object_marks(text, text[start:end + 1], predicate_index)
                known_objects[row, :len(text)] = torch.from_numpy(marks)
        return {"input_ids": ids, "subject_labels": subject_labels, "subject_spans": subject_spans,
                "object_labels": object_labels, **({} if known is None else {"known_objects": known_objects})}

    return LengthBucketedBatches(np.array([len(e[0]) for e in encoded]), collate, batch_size, seed=seed,
                                 shuffle=shuffle, pool_batches=20), len(sentences) - len(kept)


def train_triples(data: str | os.PathLike, output_dir: str | os.PathLike, dev: str | os.PathLike | None = None,
                  dev_fraction: float = 0.1, split_seed: int = 0, config: TripleConfig | dict | None = None,
                  trainer_config=None, batch_size: int = 32, epochs: int = 20, restart: bool = False,
                  force: bool = False, show_progress: bool = True, encoding: str = "utf-8",
                  model: str | os.PathLike | None = None, vectors: str | os.PathLike | None = None,
                  init_from: str | os.PathLike | None = None, entity_swaps: int = 0) -> dict:
    """Train the light extractor on ``data`` (a folder with train.json and schema.json, as
    ../shared/data/triples); resumable in ``output_dir``. The dev split: ``dev`` or ``dev_fraction``
    of train drawn with ``split_seed``. ``model``: a BERT or WoBERT folder or hub id to train the BERT
    encoder (bert_model.py) instead; resuming then starts from the checkpoint's weights. ``vectors``: a
    vectors folder (zhnlp vectors train --unit both) whose characters start the character embedding
    and whose words (and characters) become the frozen word features, kg-2019's mixed embedding.
    ``config.known_triples``: kg-2019's distant supervision (known.py): the model reads the marks of
    the training triples found in each sentence, each training sentence's drawn from the other folds'
    triples, dev's and the saved folder's from the whole training split. ``init_from``: a light
    triples folder to start a fresh run from: its vocabulary, words, shape and weights (what it lacks,
    such as distant supervision's projections, starts at zero, so training begins at its model).
    ``entity_swaps``: that many entity-swapped copies of each training sentence join it (kg-2019's
    augmentation, augment.py); dev and the dictionary stay the original sentences'."""
    from ..optional import require

    require("torch", "zhnlp train triples")
    from ..outputs import write_text
    from ..splits import dev_split
    from ..training import Trainer, TrainerConfig, epoch_schedule, resume_model_config, seed_everything, start_run
    from .extract import CharPieces, extract_batch
    from .folder import read_lines
    from .metrics import triple_scores
    from .model import TripleModel

    data = Path(data)
    output_dir = Path(output_dir)
    resuming = start_run(output_dir, restart, force)
    if resuming:
        _check_swaps(output_dir, entity_swaps)
    given = asdict(config) if isinstance(config, TripleConfig) else dict(config or {})
    for key in ("vocab_size", "num_predicates", "model_type", "word_vocab_size", "word_dim"):
        given.pop(key, None)
    saved = resume_model_config(output_dir, given, MODEL_FLAGS)
    start = None
    if init_from is not None and saved is None:
        if model is not None or vectors is not None:
            raise InputError("--init starts from a light triples folder, with its own vectors",
                             "leave out --model and --vectors, or leave out --init")
        start = _initial_model(init_from, given)
    config = TripleConfig.from_dict(saved if saved is not None else start[0] if start else given)
    if config.known_triples and model is not None:
        raise InputError("--known-triples is the light model's (its marks are per character)",
                         "leave out --model to train the light model with it, or leave out --known-triples")
    predicates = read_schema(data / "schema.json", encoding)
    sentences, report = read_sentences(data / "train.json", predicates, encoding)
    if dev is not None:
        train, held = sentences, read_sentences(dev, predicates, encoding)[0]
    else:
        train, held = dev_split(sentences, dev_fraction, split_seed)
    trainer_config = trainer_config or TrainerConfig(**TRIPLES_TRAINING)
    seed_everything(trainer_config.seed)
    tokenizer, words, fill_report, known, known_folds = None, [], None, None, None
    if model is not None:
        from ..hub import resolve_model
        from ..wobert.model import _quiet_transformers, load_tokenizer, token_list
        from .bert_model import BertTripleModel
        from .extract import TokenizerPieces

        require("transformers", "zhnlp train triples --model")
        from transformers import BertModel

        folder = resolve_model(model, required=("config.json", "vocab.txt"), weights=True, what="BERT model",
                               expected=("bert", "wobert"), example="bert-base-chinese")
        _quiet_transformers()
        tokenizer = load_tokenizer(folder)
        vocab = token_list(tokenizer)
        bert = BertModel.from_pretrained(folder, add_pooling_layer=False)
        config = TripleConfig(vocab_size=len(vocab), num_predicates=len(predicates), encoder="bert",
                              max_positions=bert.config.max_position_embeddings, embedding_dim=bert.config.hidden_size)
        network = BertTripleModel(bert, len(predicates))
        pieces_of = TokenizerPieces(tokenizer, config.max_positions)
    else:
        vocab_file = output_dir / "vocab.txt"
        if resuming and vocab_file.is_file():
            vocab = read_lines(vocab_file)
        else:
            vocab = start[1] if start else build_vocab(train)
            output_dir.mkdir(parents=True, exist_ok=True)
            write_text(vocab_file, "\n".join(vocab) + "\n")
        config.vocab_size, config.num_predicates = len(vocab), len(predicates)
        words_file = output_dir / WORDS_FILE
        loaded = None
        if resuming and words_file.is_file():
            words = read_lines(words_file)
        elif start and start[2]:
            words = start[2]
            write_text(words_file, "\n".join(words) + "\n")
        elif vectors is not None and not resuming:
            from ..vectors import Vectors

            loaded = Vectors.from_pretrained(vectors)
            words = [PAD, UNK, *loaded.tokens]
            write_text(words_file, "\n".join(words) + "\n")
        if words:
            config.word_vocab_size = len(words)
            config.word_dim = loaded.dim if loaded is not None else config.word_dim
        network = TripleModel(config)
        if start:
            from ..training import load_matching_weights

            load_matching_weights(network, start[3])
        if loaded is not None:
            chars = loaded.fill(network.embedding.weight, vocab) if loaded.dim == config.embedding_dim else \
                f"none (the vectors have {loaded.dim} dimensions, the width is {config.embedding_dim})"
            fill_report = f"characters: {chars}; words: {loaded.fill(network.words.weight, words)}"
        if config.known_triples:
            from .known import TripleDictionary, cross_fitted

            known, known_folds = TripleDictionary(train), cross_fitted(train, seed=split_seed)
        pieces_of = CharPieces({ch: i for i, ch in enumerate(vocab)}, config.max_positions,
                               {w: i for i, w in enumerate(words)} if words else None, known)
    trained_on = list(train)
    if entity_swaps:
        from .augment import augmented
        from .data import read_entity_types

        copies = augmented(train, read_entity_types(data / "schema.json", encoding), entity_swaps, seed=split_seed)
        trained_on += [copy for _, copy in copies]
        if known_folds is not None:  # a copy's marks come from its source sentence's fold
            known_folds = known_folds + [known_folds[i] for i, _ in copies]
    batches, too_long = triple_batches(trained_on, pieces_of, predicates, batch_size, trainer_config.seed,
                                       known=known_folds)
    epoch_schedule(trainer_config, len(batches), epochs, evaluate=bool(held))

    def evaluate(trained):
        found = extract_batch(trained, pieces_of, predicates, [s.text for s in held], batch_size=128,
                              device=trainer.setup.device)
        trained.train()
        scores = triple_scores([{Triple(t.subject, t.predicate, t.object) for t in f.triples} for f in found],
                               [s.triples for s in held])
        return {k: round(scores[k], 4) for k in ("precision", "recall", "f1")}

    def export(trained, directory):
        from .folder import write_triples_folder

        write_triples_folder(trained, directory, vocab, predicates, config=config, tokenizer=tokenizer,
                             training={**asdict(trainer_config), "batch_size": batch_size,
                                       "init_from": None if init_from is None else str(init_from)},
                             words=words, known=known)

    trainer = Trainer(network, trainer_config, output_dir, export=export,
                      model_config=asdict(config) if model is None else None,
                      loss_fn=lambda m, b: m(**b),  # the batch's keys are forward's arguments
                      parameter_groups=_parameter_groups(network, trainer_config),
                      show_progress=show_progress, record={"split_seed": split_seed, "dev_fraction": dev_fraction,
                                                                 "entity_swaps": entity_swaps,
                                                                 **({"vectors": fill_report} if fill_report else {})})
    result = trainer.train(batches, evaluate=evaluate if held else None)
    chosen = None
    if held and (output_dir / "model.safetensors").is_file():
        chosen = choose_thresholds(output_dir, held, "cpu" if model is None else trainer.setup.device.type)
    return {"output": str(output_dir), "steps": result.step, "epochs": round(result.step / len(batches), 2),
            "stopped_early": result.stopped_early, "seconds": round(result.seconds, 1),
            "examples_per_second": round(batch_size * (result.step - result.resumed_from) /
                                         max(result.training_seconds, 1e-9), 1),
            "best_dev_f1": trainer.best, "device": trainer.setup.description, "train_sentences": len(train),
            "swapped_copies": len(trained_on) - len(train),
            "dev_sentences": len(held), "skipped_triples": report.skipped_not_in_text, "too_long": too_long,
            "parameters": sum(p.numel() for p in network.parameters() if p.requires_grad),
            **({"thresholds": chosen["thresholds"], "dev_f1_with_them": round(chosen["f1"], 4)} if chosen else {}),
            **({"dev_f1_without_known": round(chosen["without_known"], 4)} if chosen and "without_known" in chosen else {}),
            **({"vectors": fill_report} if fill_report else {})}


def _addition_precision(extractor, sentences: list[Sentence], thresholds, added: list[set]) -> float:
    """How often, on ``sentences``, a dictionary triple the model (at ``thresholds``) left out is right."""
    found = extractor.extract([s.text for s in sentences], thresholds=thresholds[:2], object_thresholds=thresholds[2:],
                              add_known=False)
    right = total = 0
    for sentence, extraction, extra in zip(sentences, found, added):
        new = extra - {Triple(t.subject, t.predicate, t.object) for t in extraction.triples}
        total += len(new)
        right += len(new & set(sentence.triples))
    return round(right / total, 4) if total else 0.0


def _check_swaps(output_dir: Path, entity_swaps: int) -> None:
    """A resumed run trains on the same sentences: its --entity-swaps as the checkpoint's."""
    import json

    from ..training import TRAINING_FILE

    record = output_dir / TRAINING_FILE
    saved = json.loads(record.read_text(encoding="utf-8")).get("entity_swaps", 0) if record.is_file() else entity_swaps
    if saved != entity_swaps:
        raise InputError(f"--entity-swaps {entity_swaps} ({output_dir} was trained with {saved})",
                         f"resume with --entity-swaps {saved}, or add --restart to start over")


def _initial_model(init_from, given: dict) -> tuple[dict, list[str], list[str], dict]:
    """(config fields, vocabulary, words, weights) of the light folder a fresh run starts from; a
    shape field given that differs from the folder's is an InputError naming its flag."""
    import json

    from safetensors.numpy import load_file

    from ..training import config_conflicts
    from .folder import read_lines, resolve_folder

    directory = resolve_folder(init_from)
    fields = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    if fields.get("encoder", "dgcnn") != "dgcnn":
        raise InputError(f"--init {directory}: a BERT triples folder", "give a light triples folder, or train with --model")
    shape = {k: given.get(k) for k in ("embedding_dim", "dilations", "kernel_size", "attention_heads")}
    conflicts = config_conflicts(shape, fields, MODEL_FLAGS, "the folder")
    if conflicts:
        raise InputError(f"{'; '.join(conflicts)}: --init {directory} fixes the model's shape",
                         "leave those options out, or train from scratch without --init")
    fields.update({k: v for k, v in given.items() if v is not None and k not in shape})
    for key in ("vocab_size", "num_predicates", "thresholds"):
        fields.pop(key, None)
    words = read_lines(directory / WORDS_FILE) if fields.get("word_vocab_size") else []
    return fields, read_lines(directory / "vocab.txt"), words, load_file(str(directory / "model.safetensors"))


def _parameter_groups(model, trainer_config) -> list[dict]:
    """Decay on matrices only (the trainer's default); distant supervision's projections, when
    there are some, in a group of their own at KNOWN_LR_SCALE times the learning rate."""
    from ..training import decay_groups

    known = [p for n, p in model.named_parameters() if n.startswith("known_")]
    groups = decay_groups([(n, p) for n, p in model.named_parameters() if not n.startswith("known_")],
                          trainer_config.weight_decay)
    if known:
        groups.append({"params": known, "weight_decay": 0.0, "lr": trainer_config.lr * KNOWN_LR_SCALE})
    return groups


def choose_thresholds(folder: str | os.PathLike, sentences: list[Sentence], device: str = "cpu") -> dict:
    """Choose the model folder's four pointer thresholds on ``sentences`` (its dev split) and write
    them to its config.json, where TripleExtractor reads them; the search starts from the original's
    every time, so choosing again gives the same. Returns tune_thresholds' result."""
    import json

    from ..outputs import write_text
    from .extract import tune_thresholds
    from .extractor import TripleExtractor

    extractor = TripleExtractor.from_pretrained(folder, device=device)
    chosen = tune_thresholds(extractor.model, extractor.pieces, extractor.predicates, sentences,
                             start=TripleConfig.thresholds, device=extractor.device)
    config_file = Path(folder) / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["thresholds"] = chosen["thresholds"]
    known = getattr(extractor.pieces, "known", None)  # a BERT encoder's pieces have none
    if known is not None:  # with the dictionary's triples added too, where dev says so
        added = [known(s.text) for s in sentences]
        with_known = tune_thresholds(extractor.model, extractor.pieces, extractor.predicates, sentences,
                                     start=chosen["thresholds"], device=extractor.device, added=added)
        config["add_known"] = with_known["f1"] > chosen["f1"]
        if config["add_known"]:
            chosen = {**with_known, "without_known": chosen["f1"]}
            config["thresholds"] = chosen["thresholds"]
        config["known_score"] = _addition_precision(extractor, sentences, config["thresholds"], added)
    write_text(config_file, json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    return chosen
