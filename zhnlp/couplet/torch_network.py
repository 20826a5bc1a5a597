"""A PyTorch CoupletModel behind NumpyCouplet's interface (numpy in, numpy out), for decoding on a
GPU; the decoder never knows which of the two it runs."""
from __future__ import annotations

import numpy as np

OUTPUT_ROWS = 16384  # positions whose whole output layer PyTorch computes at once: 16384 x V floats, 425 MB


class TorchNetwork:
    """A PyTorch CoupletModel on a device, with NumpyCouplet's interface (numpy in, numpy out)."""

    def __init__(self, model, device: str):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config

    def encode(self, input_ids: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model.encode(self.torch.from_numpy(input_ids).to(self.device)).float().cpu().numpy()

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model.output(self.torch.from_numpy(hidden).to(self.device)).float().cpu().numpy()

    def shortlisted_logits(self, hidden: np.ndarray, upper_ids: np.ndarray, shortlist: np.ndarray,
                           pool=None, parts: int = 1) -> np.ndarray:
        """NumpyCouplet.shortlisted_logits's result; on a GPU the whole output layer costs little, in
        slices of OUTPUT_ROWS positions (a wave of long lines would otherwise hold gigabytes of logits)."""
        torch = self.torch
        out = np.empty((len(hidden), shortlist.shape[1]), dtype=np.float32)  # (N, K)
        with torch.inference_mode():
            for start in range(0, len(hidden), OUTPUT_ROWS):
                rows = slice(start, start + OUTPUT_ROWS)
                logits = self.model.output(torch.from_numpy(hidden[rows]).to(self.device))  # (n, V)
                columns = torch.from_numpy(shortlist[upper_ids[rows]].astype(np.int64)).to(self.device)  # (n, K)
                out[rows] = logits.gather(1, columns).float().cpu().numpy()
        return out

