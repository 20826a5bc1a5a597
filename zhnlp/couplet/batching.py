"""How a batch file is cut for decoding: lines of one length in chunks, chunks in waves (the output
layer runs once per wave); the chunks run on zhnlp.parallel's pool."""
from __future__ import annotations

from typing import Iterator

# lines decoded together: the output layer runs once per wave (more lines share each shortlist row's
# output vectors), and the model's states of a wave stay in memory (about 4 KB a line)
WAVE_LINES = 8192


def waves(chunks: list[list[int]], lines: int) -> Iterator[list[list[int]]]:
    """Consecutive runs of chunks holding about ``lines`` lines each (at least one chunk)."""
    wave: list[list[int]] = []
    held = 0
    for chunk in chunks:
        if wave and held + len(chunk) > lines:
            yield wave
            wave, held = [], 0
        wave.append(chunk)
        held += len(chunk)
    if wave:
        yield wave
