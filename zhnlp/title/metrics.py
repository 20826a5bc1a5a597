"""The CSL title metrics, computed as the published figures are (bert4keras'
examples/task_seq2seq_autotitle_csl.py, the CLGE and t5-pegasus tables): each title lowercased and
its characters joined by spaces; Rouge-1, Rouge-2 and Rouge-L F scores from the ``rouge`` package and
BLEU from nltk's ``sentence_bleu`` with ``SmoothingFunction().method1``, averaged over all lines, a
line with an empty prediction scoring 0 in all four; reported in percent. And the Lead-k baseline:
the abstract's first k characters, k chosen on training pairs.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import InputError

METRICS = ("rouge-1", "rouge-2", "rouge-l", "bleu")


def _spaced(text: str) -> str:
    return " ".join(text.replace(" ", "")).lower()


def title_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """{"rouge-1", "rouge-2", "rouge-l", "bleu"} in percent, and "n" (lines) and "empty" (empty predictions)."""
    from ..optional import require

    require("rouge", "title evaluation")
    require("nltk", "title evaluation")
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge import Rouge

    if len(predictions) != len(references) or not references:
        raise InputError(f"{len(predictions)} predictions for {len(references)} references",
                         "give one prediction per reference line")
    rouge, smooth = Rouge(), SmoothingFunction().method1
    totals = dict.fromkeys(METRICS, 0.0)
    empty = 0
    for prediction, reference in zip(predictions, references):
        hypothesis, target = _spaced(prediction), _spaced(reference)
        if not hypothesis.strip():
            empty += 1
            continue
        try:
            scores = rouge.get_scores(hyps=hypothesis, refs=target)[0]
        except ValueError:  # the package splits at "." and finds nothing left (a title of periods): empty
            empty += 1
            continue
        for name in ("rouge-1", "rouge-2", "rouge-l"):
            totals[name] += scores[name]["f"]
        totals["bleu"] += sentence_bleu(references=[target.split(" ")], hypothesis=hypothesis.split(" "),
                                        smoothing_function=smooth)
    n = len(references)
    return {**{name: 100 * value / n for name, value in totals.items()}, "n": n, "empty": empty}


def lead_k(abstract: str, k: int) -> str:
    """The first k characters of the abstract (the Lead-k baseline)."""
    return abstract.strip()[:k]


def best_lead_k(abstracts: Sequence[str], titles: Sequence[str], ks: Sequence[int] = range(5, 61, 5)) -> int:
    """The k of ``ks`` whose Lead-k has the best Rouge-L on these (training) pairs."""
    scored = [(title_scores([lead_k(a, k) for a in abstracts], titles)["rouge-l"], -k) for k in ks]
    return -max(scored)[1]
