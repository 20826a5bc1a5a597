"""``Classifier``: a label per sentence from a classifier folder (zhnlp train classifier).

    >>> from zhnlp.classification import Classifier
    >>> classify = Classifier.from_pretrained("tnews-model")  # doctest: +SKIP
    >>> classify("国足主帅谈世界杯预选赛")  # doctest: +SKIP
    {'label': '103', 'label_desc': 'news_sports', 'score': 0.91}
"""
from __future__ import annotations

import os
from typing import Sequence

from ..errors import InputError

TRAIN_HINT = "train one: zhnlp train classifier --data ../shared/data/classification/tnews -o DIR"


class Classifier:
    def __init__(self, network, tokenizer, device, description: str):
        config = network.config
        self.network, self.tokenizer, self.device, self.description = network, tokenizer, device, description
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.descriptions = dict(getattr(config, "label_descriptions", None) or {})
        self.max_length = int(getattr(config, "zhnlp_max_length", 128))

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, device: str = "auto") -> "Classifier":
        """A classifier folder, a name under $ZHNLP_MODELS or a hub id."""
        from ..hub import resolve_model_or_shipped
        from ..optional import require

        require("torch", "zhnlp classify")
        require("transformers", "zhnlp classify")
        from transformers import BertForSequenceClassification

        from ..training import resolve_device
        from ..wobert.model import _quiet_transformers, load_tokenizer
        from .train import TASK

        folder = resolve_model_or_shipped(name_or_path, TASK, ("config.json",), "classifier model",
                                          TRAIN_HINT)
        _quiet_transformers()
        try:
            network = BertForSequenceClassification.from_pretrained(folder)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InputError(f"cannot load the classifier in {folder}: {str(exc).splitlines()[0][:200]}",
                             TRAIN_HINT) from None
        setup = resolve_device(device)
        return cls(network.to(setup.device).eval(), load_tokenizer(folder), setup.device, setup.description)

    def classify(self, texts: str | Sequence[str], batch_size: int = 64) -> dict | list[dict]:
        """{"label", "label_desc", "score"} per text (``label``: the training file's value); a string gives one."""
        from .train import predict

        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        if batch_size < 1:
            raise InputError(f"batch size {batch_size} is below 1", "use --batch-size 1 or more")
        found = [{"label": self.labels[i], "label_desc": self.descriptions.get(self.labels[i], ""), "score": p}
                 for i, p in predict(self.network, self.tokenizer, items, self.device, batch_size, self.max_length)]
        return found[0] if single else found

    __call__ = classify


def evaluate_classifier(model: str | os.PathLike | None, data: str | os.PathLike, device: str = "auto",
                        batch_size: int = 64, encoding: str = "utf-8") -> dict:
    """Accuracy and macro-F1 of a classifier on labelled examples (a file, or a folder's dev.json)."""
    from .train import accuracy_and_macro_f1, dataset_of

    classifier = Classifier.from_pretrained(model, device=device)
    dataset = dataset_of(data, encoding)
    unknown = sorted({e.label for e in dataset.dev} - set(classifier.labels))
    if unknown:
        first = next(e for e in dataset.dev if e.label in unknown)
        raise InputError(f"{dataset.dev_source}, line {first.line}: label {first.label!r} is not one of the "
                         f"model's {len(classifier.labels)} labels", "score the model on data of its own task")
    found = classifier([e.text for e in dataset.dev], batch_size=batch_size)
    scores = accuracy_and_macro_f1([f["label"] for f in found], [e.label for e in dataset.dev])
    return {**scores, "data": dataset.dev_source}
