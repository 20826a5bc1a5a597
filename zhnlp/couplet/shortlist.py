"""The lexical shortlist: for each upper character, the lower characters the decoder weighs.

A lower character mostly answers the upper character at its position (风 -> 雨, 月, 云 ...), so the
constrained decoder need not score the whole vocabulary at every position: it scores, for an upper
character u, the K lower characters most often aligned with u in the training pairs, topped up with
the most frequent lower characters when u has fewer partners (as vocabulary shortlists in neural
machine translation: Jean et al. 2015, "On Using Very Large Target Vocabulary"). The output layer then
costs K instead of V dot products per position, the bulk of decoding on the CPU. A shortlist never
holds u itself, punctuation, [PAD] or [UNK], so the rules' bans are built in.

``train_couplet`` writes it beside the vocabulary (``shortlist.safetensors``: one (V, K) integer tensor
"shortlist"); a model folder without one decodes over the whole vocabulary.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .decode import never_emitted
from .folder import UNK

from .defaults import DEFAULT_SHORTLIST_SIZE

SHORTLIST_FILE = "shortlist.safetensors"


def build_shortlist(pairs: list[tuple[str, str]], vocab: list[str],
                    size: int = DEFAULT_SHORTLIST_SIZE) -> np.ndarray:
    """(V, K) int32, K = ``size`` (fewer in a vocabulary that small): row u holds the lower characters
    most often aligned with upper character u in ``pairs``, most frequent first, then the most
    frequent lower characters overall."""
    vocab_size = len(vocab)
    index = {c: i for i, c in enumerate(vocab)}
    unk = index[UNK]
    upper = np.fromiter((index.get(c, unk) for up, _ in pairs for c in up), dtype=np.int64)
    lower = np.fromiter((index.get(c, unk) for _, low in pairs for c in low), dtype=np.int64)
    allowed = np.ones(vocab_size, dtype=bool)
    allowed[never_emitted(vocab)] = False
    keep = allowed[lower] & (upper != lower)
    codes, counts = np.unique(upper[keep] * vocab_size + lower[keep], return_counts=True)
    partner_upper, partner_lower = codes // vocab_size, codes % vocab_size
    order = np.lexsort((partner_lower, -counts, partner_upper))  # by upper, then most frequent first
    partner_upper, partner_lower = partner_upper[order], partner_lower[order]
    starts = np.searchsorted(partner_upper, np.arange(vocab_size + 1))

    overall = np.bincount(lower[allowed[lower]], minlength=vocab_size)
    frequent = [i for i in np.lexsort((np.arange(vocab_size), -overall)).tolist() if allowed[i]]
    if len(frequent) < 2:
        raise InputError(f"only {len(frequent)} character(s) the decoder may emit", "train on more pairs")
    size = min(size, len(frequent) - 1)  # a small vocabulary: every other emittable character
    shortlist = np.empty((vocab_size, size), dtype=np.int32)
    for u in range(vocab_size):
        partners = partner_lower[starts[u]:starts[u + 1]][:size].tolist()
        if len(partners) < size:
            taken = set(partners)
            taken.add(u)
            partners += [c for c in frequent[:2 * size + 1] if c not in taken][:size - len(partners)]
        shortlist[u] = partners
    return shortlist


def save_shortlist(directory: str | os.PathLike, shortlist: np.ndarray) -> None:
    from safetensors.numpy import save_file

    from ..outputs import atomic_path

    dtype = np.int16 if len(shortlist) <= np.iinfo(np.int16).max else np.int32  # ids of a vocabulary up to 32,767: half the size
    with atomic_path(Path(directory) / SHORTLIST_FILE) as temporary:
        save_file({"shortlist": np.ascontiguousarray(shortlist, dtype=dtype)}, str(temporary))


def load_shortlist(directory: str | os.PathLike, vocab: list[str]) -> np.ndarray | None:
    """The folder's shortlist, (V, K) int64, or None when it has none; an InputError when it does not
    fit the vocabulary or would let the decoder break a rule."""
    path = Path(directory) / SHORTLIST_FILE
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    shortlist = load_file(str(path)).get("shortlist")
    fix = "rebuild it: zhnlp train couplet --data DATA -o DIR (on a finished run it only writes what is missing)"
    if shortlist is None or shortlist.ndim != 2 or len(shortlist) != len(vocab):
        raise InputError(f"{path}: not a shortlist for this vocabulary of {len(vocab)}", fix)
    shortlist = shortlist.astype(np.int64)
    bad = np.isin(shortlist, never_emitted(vocab)) | (shortlist == np.arange(len(vocab))[:, None])
    if shortlist.min() < 0 or shortlist.max() >= len(vocab) or bad.any():
        raise InputError(f"{path}: holds ids out of range, punctuation or an upper character's own id", fix)
    return shortlist
