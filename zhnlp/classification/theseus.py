"""BERT-of-Theseus compression (Xu et al. 2020, arXiv 2002.02925; Su Jianlin's BERT-of-Theseus:
基于模块替换的模型压缩方法, kexue.fm/archives/7575): a classifier of N layers is compressed to K.

The predecessor's layers fall into K groups of about N/K. The successor's K modules start as copies
of predecessor layers (``init="first"``: the first K, as bojone/bert-of-theseus; ``"spread"``: the
first layer of each group). Stage 1 (replacing): at every step each group is replaced by its
successor module with probability p, one draw per module per step (``schedule="constant"``: p = 0.5
as bojone; ``"linear"``: p = min(1, k·t + b) as JetRunner/BERT-of-Theseus); the predecessor's layers,
embeddings and classifier stay frozen, so only the successor modules learn, each inside the
predecessor's own context. Stage 2: the successor alone (embeddings, K modules, classifier) is
fine-tuned. Both stages resume as one job, and the result is an ordinary classifier folder.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path

from ..errors import InputError
from .train import TASK

REPLACING = "replacing"  # the stage-1 folder inside the output folder: its checkpoint and best successor
SCHEDULES = ("constant", "linear")
INITS = ("first", "spread")


def layer_groups(num_layers: int, successor_layers: int) -> list[range]:
    """The predecessor layers each successor module replaces: K groups, sizes differing by one at most."""
    return [range(g * num_layers // successor_layers, (g + 1) * num_layers // successor_layers)
            for g in range(successor_layers)]


def replacement_probability(step: int, schedule: str, rate: float, slope: float) -> float:
    """p at optimiser step ``step``: ``rate`` throughout (constant), or min(1, slope·step + rate) (linear)."""
    return rate if schedule == "constant" else min(1.0, slope * step + rate)


def _theseus_model(predecessor, successor_layers: int, init: str):
    import torch
    from torch import nn

    class TheseusModel(nn.Module):
        """The predecessor with K trainable successor modules, each replacing its group of frozen
        predecessor layers with probability ``replace_prob`` per step; in eval mode the successor
        modules alone (what the compressed model will compute)."""

        def __init__(self):
            super().__init__()
            self.predecessor = predecessor
            for parameter in predecessor.parameters():
                parameter.requires_grad_(False)
            layers = predecessor.bert.encoder.layer
            self.groups = layer_groups(len(layers), successor_layers)
            starts = range(successor_layers) if init == "first" else [g.start for g in self.groups]
            self.successor = nn.ModuleList(copy.deepcopy(layers[i]) for i in starts)
            for parameter in self.successor.parameters():
                parameter.requires_grad_(True)
            self._layers = (layers,)  # the predecessor's own list, not registered twice
            self.replace_prob = 0.5

        def get_input_embeddings(self):
            return self.predecessor.get_input_embeddings()

        def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
            predecessor_layers = self._layers[0]
            chosen, replaced = [], False
            for module, group in zip(self.successor, self.groups):
                if not self.training or torch.rand(()) < self.replace_prob:  # one draw per module per step
                    chosen.append(module)
                    replaced = True
                else:
                    chosen.extend(predecessor_layers[i] for i in group)
            encoder = self.predecessor.bert.encoder
            encoder.layer = nn.ModuleList(chosen)
            try:
                output = self.predecessor(input_ids=input_ids, attention_mask=attention_mask,
                                          token_type_ids=token_type_ids, labels=labels)
            finally:
                encoder.layer = predecessor_layers
            if not replaced and output.loss is not None:
                # no module drawn: the successor gets a zero gradient, as from bojone's switch layer
                output.loss = output.loss + 0.0 * sum(p.sum() for p in self.successor.parameters())
            return output

        def successor_model(self):
            """The compressed classifier: the predecessor's embeddings, pooler and classifier around
            the K successor modules, as a BertForSequenceClassification of K layers."""
            from transformers import BertForSequenceClassification

            config = copy.deepcopy(self.predecessor.config)
            config.num_hidden_layers = len(self.successor)
            compact = BertForSequenceClassification(config)
            state = {k: v for k, v in self.predecessor.state_dict().items() if ".encoder.layer." not in k}
            for i, module in enumerate(self.successor):
                state.update({f"bert.encoder.layer.{i}.{k}": v for k, v in module.state_dict().items()})
            compact.load_state_dict(state)
            return compact

    return TheseusModel()


def compress(model: str | os.PathLike, data: str | os.PathLike, output_dir: str | os.PathLike,
             layers: int | None = None, init: str = "first", schedule: str = "constant", replace_rate: float = 0.5,
             slope: float | None = None, dev: str | os.PathLike | None = None, dev_fraction: float = 0.1,
             split_seed: int = 0, replacing_epochs: int = 2, successor_epochs: int = 1, batch_size: int = 32,
             trainer_config=None, restart: bool = False, force: bool = False, show_progress: bool = True,
             encoding: str = "utf-8") -> dict:
    """Compress the classifier ``model`` (a classifier folder) to ``layers`` layers (default: half)
    on ``data`` (its task's training data, as train_classifier reads it); the successor is written to
    ``output_dir``. ``slope``: the linear schedule's k (default: p reaches 1 at the end of stage 1)."""
    from ..optional import require

    require("torch", "zhnlp compress")
    require("transformers", "zhnlp compress")
    from transformers import BertForSequenceClassification

    from ..hub import resolve_model
    from ..training import Trainer, TrainerCallback, TrainerConfig, epoch_schedule, seed_everything, start_run
    from ..wobert.model import _quiet_transformers, load_tokenizer, save_wobert
    from .data import load_dataset
    from .train import FINE_TUNING, classification_batches, predict, train_classifier

    if schedule not in SCHEDULES:
        raise InputError(f"unknown schedule: {schedule!r}", f"use --schedule {' or --schedule '.join(SCHEDULES)}")
    if init not in INITS:
        raise InputError(f"unknown successor initialisation: {init!r}", f"use --init {' or --init '.join(INITS)}")
    if not 0.0 < replace_rate <= 1.0:
        raise InputError(f"replacement rate {replace_rate} is outside (0, 1]", "use e.g. --replace-rate 0.5")
    folder = resolve_model(model, required=("config.json",), weights=True, what="classifier model", expected=TASK)
    _quiet_transformers()
    predecessor = BertForSequenceClassification.from_pretrained(folder)
    tokenizer = load_tokenizer(folder)
    num_layers = predecessor.config.num_hidden_layers
    layers = layers or num_layers // 2
    if not 1 <= layers < num_layers:
        raise InputError(f"--layers {layers}: the successor must have fewer layers than the predecessor's {num_layers}",
                         f"use --layers {max(num_layers // 2, 1)} (half, the default)" if num_layers > 1 else
                         "a one-layer classifier cannot be compressed by layers")
    labels = [predecessor.config.id2label[i] for i in range(predecessor.config.num_labels)]
    dataset = load_dataset(data, dev, None, dev_fraction, split_seed, encoding)
    for example in dataset.train + dataset.dev:
        if example.label not in set(labels):
            raise InputError(f"{data}: label {example.label!r} (line {example.line}) is not one of the classifier's "
                             f"{len(labels)} labels", "compress a classifier on the data of its own task")
    output_dir = Path(output_dir)
    replacing_dir = output_dir / REPLACING
    max_length = int(getattr(predecessor.config, "zhnlp_max_length", 128))
    from ..outputs import check_output_folder
    from ..training.trainer import saved_state

    if restart or saved_state(replacing_dir, REPLACING) is None:
        check_output_folder(output_dir, force or restart, training=True)
    output_dir.mkdir(exist_ok=True)
    start_run(replacing_dir, restart, force=True, stage=REPLACING)
    config = trainer_config or TrainerConfig(**FINE_TUNING)
    seed_everything(config.seed)
    theseus = _theseus_model(predecessor, layers, init)
    batches = classification_batches(dataset.train, tokenizer, labels, batch_size, max_length, config.seed)
    stage_one = dataclasses.replace(config, max_steps=0, eval_every=0)
    epoch_schedule(stage_one, len(batches), replacing_epochs, evaluate=bool(dataset.dev))
    slope = slope if slope is not None else (1.0 - replace_rate) / max(stage_one.max_steps, 1)

    class ReplacementSchedule(TrainerCallback):
        def on_step_begin(self, trainer) -> None:
            theseus.replace_prob = replacement_probability(trainer.step, schedule, replace_rate, slope)

    def evaluate(trained) -> dict:
        from .train import accuracy_and_macro_f1

        found = predict(trained.successor_model().to(trainer.setup.device), tokenizer, [e.text for e in dataset.dev],
                        trainer.setup.device, 128, max_length)
        trained.train()
        return {"accuracy": round(accuracy_and_macro_f1([labels[i] for i, _ in found],
                                                        [e.label for e in dataset.dev])["accuracy"], 4)}

    record = {"predecessor": str(folder), "predecessor_layers": num_layers, "layers": layers, "init": init,
              "schedule": schedule, "replace_rate": replace_rate, "slope": slope}
    trainer = Trainer(theseus, stage_one, replacing_dir, stage=REPLACING, callbacks=[ReplacementSchedule()],
                      export=lambda m, d: save_wobert(m.successor_model(), tokenizer, d),
                      loss_fn=lambda m, b: m(**b).loss, show_progress=show_progress, record=record)
    replaced = trainer.train(batches, evaluate=evaluate if dataset.dev else None)
    # stage 2: the successor alone, fine-tuned as any classifier from the best successor of stage 1
    stage_two = dataclasses.replace(config, max_steps=0, eval_every=0)
    summary = train_classifier(data, output_dir, model=replacing_dir, dev=dev, dev_fraction=dev_fraction,
                               split_seed=split_seed, trainer_config=stage_two, batch_size=batch_size,
                               epochs=successor_epochs, max_length=max_length, restart=restart, force=True,
                               show_progress=show_progress, encoding=encoding)
    return {**summary, "predecessor_layers": num_layers, "layers": layers, "replacing_steps": replaced.step,
            "replacing_best_dev_accuracy": trainer.best, "replacing_seconds": round(replaced.seconds, 1)}


def first_layers(model: str | os.PathLike, layers: int, output_dir: str | os.PathLike, force: bool = False) -> Path:
    """A classifier of the first ``layers`` layers of ``model`` (its embeddings, pooler and classifier
    kept): the baseline that Theseus is measured against, fine-tuned directly without replacement."""
    from ..optional import require

    require("torch", "zhnlp compress")
    from transformers import BertForSequenceClassification

    from ..hub import resolve_model
    from ..outputs import check_output_folder
    from ..wobert.model import _quiet_transformers, load_tokenizer, save_wobert

    folder = resolve_model(model, required=("config.json",), weights=True, what="classifier model", expected=TASK)
    check_output_folder(output_dir, force)
    _quiet_transformers()
    full = BertForSequenceClassification.from_pretrained(folder)
    if not 1 <= layers < full.config.num_hidden_layers:
        raise InputError(f"{layers} layers: fewer than the model's {full.config.num_hidden_layers} are needed",
                         f"use {max(full.config.num_hidden_layers // 2, 1)}")
    full.bert.encoder.layer = full.bert.encoder.layer[:layers]
    full.config.num_hidden_layers = layers
    return save_wobert(full, load_tokenizer(folder), output_dir)
