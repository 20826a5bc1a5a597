"""``TitleGenerator``: a title for an article from either model family, one API.

    >>> from zhnlp.title import TitleGenerator
    >>> titles = TitleGenerator.from_pretrained()  # the light model shipped with zhnlp  # doctest: +SKIP
    >>> titles("本文提出了一种基于……的方法。")  # doctest: +SKIP
    >>> titles.generate(["...", "..."], num_beams=4, num_return=3)  # doctest: +SKIP

The light model (folder ``architecture: pointer``) runs in numpy on the CPU, so that a title never
waits for torch to import; on CUDA it runs its PyTorch module. UniLM folders (``architecture:
unilm``) run in PyTorch on the CPU or CUDA. Articles are sorted by length and decoded in batches by
the shared decoder (zhnlp.generation); every decode ends, and one cut at ``max_length`` says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import InputError
from ..generation import GenerationConfig

DEFAULT_BEAMS = 4  # beam 4 beat greedy on dev by about 1 Rouge-L (benchmarks/bench_title.py)
DEFAULT_NO_REPEAT = 3  # no trigram twice: +0.5 Rouge-L on dev at beam 4 (titles seldom repeat one)


@dataclass
class TitleResult:
    title: str  # the best candidate
    candidates: list[tuple[str, float]] = field(default_factory=list)  # (title, score), best first
    truncated: bool = False  # the best candidate was cut at max_length before its end token
    source_truncated: bool = False  # the article was longer than the model reads (its head was kept)

    def as_dict(self) -> dict:
        return {"title": self.title, "candidates": [{"title": t, "score": round(s, 4)} for t, s in self.candidates],
                "truncated": self.truncated}


class TitleGenerator:
    def __init__(self, kind: str, model, device: str, max_source_length: int, max_target_length: int,
                 vocab=None, torch_device=None):
        self.kind = kind  # "pointer" or "unilm"
        self.model = model
        self.device = device  # what it runs on, in words
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.vocab = vocab  # the light model's CharVocab
        self._torch_device = torch_device  # None: numpy

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, device: str = "auto") -> "TitleGenerator":
        """A title model folder, a name under $ZHNLP_MODELS or a hub id (default: the one shipped with
        zhnlp). ``device``: auto (CUDA when there is a GPU), cpu, cuda or cuda:N."""
        from ..optional import available, require
        from ..training.device import gpu_may_be_present
        from .folder import TRAIN_HINT, read_config, resolve_folder

        folder = resolve_folder(name_or_path)
        document = read_config(folder)
        kind = document.get("architecture")
        if kind == "pointer":
            from .encoding import CharVocab
            from .folder import PointerConfig, expected_shapes, load_weights, read_vocab
            from .pointer_numpy import NumpyPointerGenerator

            config = PointerConfig.from_dict(document)
            vocab = CharVocab(read_vocab(folder, config.vocab_size))
            weights = load_weights(folder, expected_shapes(config))
            if device == "cpu" or (device == "auto" and not (gpu_may_be_present() and available("torch"))):
                return cls(kind, NumpyPointerGenerator(config, weights), "cpu (numpy)", config.max_source_length,
                           config.max_target_length, vocab)
            setup = _torch_setup(device, "the light title model on CUDA")
            if setup.device.type == "cpu":
                return cls(kind, NumpyPointerGenerator(config, weights), "cpu (numpy)", config.max_source_length,
                           config.max_target_length, vocab)
            import torch

            from .pointer_model import PointerGenerator

            network = PointerGenerator(config)
            network.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
            network.to(setup.device).eval()
            return cls(kind, network, setup.description, config.max_source_length, config.max_target_length,
                       vocab, setup.device)
        if kind == "unilm":
            require("torch", "a UniLM title model")
            require("transformers", "a UniLM title model")
            from .unilm import UniLM

            setup = _torch_setup(device, "a UniLM title model")
            model = UniLM.from_folder(folder, document).to(setup.device).eval()
            return cls(kind, model, setup.description, model.config.max_source_length, model.config.max_target_length,
                       torch_device=setup.device)
        raise InputError(f"{folder}/config.json: unknown title architecture {kind!r}", TRAIN_HINT)

    # ------------------------------------------------------------------ calling
    def __call__(self, articles: str | Sequence[str], **options) -> str | list[str]:
        """The best title of an article (a string), or of each of a list of articles."""
        results = self.generate([articles] if isinstance(articles, str) else list(articles), **options)
        return results[0].title if isinstance(articles, str) else [r.title for r in results]

    def reads_whole(self, article: str) -> bool:
        """Whether the model reads all of the article (else its head, max_source_length units)."""
        if self.kind == "pointer":
            from .encoding import clean

            return len(clean(article)) <= self.max_source_length - 1
        return len(self.model.source_ids(article)) - 2 >= len(self.model.token_ids(article))

    def generate(self, articles: str | Sequence[str], num_beams: int = DEFAULT_BEAMS, num_return: int = 1,
                 do_sample: bool = False, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 seed: int | None = None, max_length: int | None = None, min_length: int = 1,
                 length_penalty: float = 1.0, no_repeat_ngram_size: int = DEFAULT_NO_REPEAT, repetition_penalty: float = 1.0,
                 batch_size: int = 32, show_progress_bar: bool = False,
                 on_batch: Callable[[int], None] | None = None) -> list[TitleResult]:
        """A TitleResult per article, in order. Beam search by default; ``do_sample`` samples
        ``num_return`` titles (consistent top-k/top-p: the end token is always a candidate).
        ``max_length``: most title units (default: the model's)."""
        single = isinstance(articles, str)
        articles = [articles] if single else list(articles)
        for i, article in enumerate(articles):
            if not isinstance(article, str) or not article.strip():
                where = "" if single else f" (article {i + 1})"
                raise InputError(f"empty article{where}", "give the article's text (a title needs something to read)")
        if batch_size < 1:
            raise InputError(f"batch size {batch_size} is below 1", "use --batch-size 1 or more")
        config = GenerationConfig(max_length=max_length or self.max_target_length, min_length=min_length,
                                  num_beams=1 if do_sample else num_beams,
                                  num_return=num_return if do_sample else min(num_return, max(num_beams, 1)),
                                  length_penalty=length_penalty, do_sample=do_sample, temperature=temperature,
                                  top_k=top_k, top_p=top_p, no_repeat_ngram_size=no_repeat_ngram_size,
                                  repetition_penalty=repetition_penalty, seed=seed)
        if num_return > 1 and not do_sample and num_return > num_beams:
            raise InputError(f"{num_return} titles asked from {num_beams} beams", "use -n no larger than --beam")
        config.check()
        from ..progress import progress_task

        with progress_task("titles", total=len(articles), unit="titles", enabled=show_progress_bar) as task:
            def advance(n: int) -> None:
                task.advance(n)
                if on_batch:
                    on_batch(n)

            if self.kind == "pointer":
                from .light import pointer_titles

                found = pointer_titles(self.model, self.vocab, articles, config, self.max_source_length,
                                       batch_size, self._torch_device, advance)
            else:
                found = self._unilm_titles(articles, config, batch_size, advance)
        return [TitleResult(candidates[0][0] if candidates else "", candidates, truncated, not self.reads_whole(a))
                for a, (candidates, truncated) in zip(articles, found)]

    def _unilm_titles(self, articles, config, batch_size, advance):
        from ..generation import generate

        model = self.model
        order = sorted(range(len(articles)), key=lambda i: len(articles[i]))
        results: list = [None] * len(articles)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            prefix, state = model.start([articles[i] for i in rows])
            for i, hypotheses in zip(rows, generate(model.step, prefix, model.sep_id, config, state)):
                results[i] = ([(model.decode(h.tokens), h.score) for h in hypotheses], hypotheses[0].truncated)
            advance(len(rows))
        return results


def _torch_setup(device: str, what: str):
    from ..optional import require

    require("torch", what)
    from ..training import resolve_device

    return resolve_device(device)
