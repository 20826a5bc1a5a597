"""The gated residual convolution of Su Jianlin's couplet CNN and DGCNN, in one place.

[h, g] = Conv1D(2d)(x); out = x·σ(g) + h·(1 − σ(g)) (基于CNN和序列标注的对联机器人,
kexue.fm/archives/6270). The couplet model stacks six with kernel 3 and no dilation; DGCNN (and
triple extraction's light encoder) dilates them. Padding positions are zeroed before every
convolution, so a sequence's outputs do not depend on how much padding its batch has.
"""
from __future__ import annotations

import torch
from torch import nn


class GatedResidualConv(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1, dropout: float = 0.0):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd, so that the output keeps the input's length")
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, T, C); mask: (B, T) with 1 for real positions
        if mask is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        h, g = self.conv(x.transpose(1, 2)).transpose(1, 2).chunk(2, dim=-1)  # (B, T, C) each
        gate = torch.sigmoid(g)
        return x * gate + self.dropout(h) * (1 - gate)


class GatedResidualStack(nn.Module):
    """Gated residual convolutions in sequence, one dilation each (1s: the couplet CNN)."""

    def __init__(self, channels: int, dilations: tuple[int, ...] = (1, 1, 1, 1, 1, 1), kernel_size: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(GatedResidualConv(channels, kernel_size, d, dropout) for d in dilations)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)
