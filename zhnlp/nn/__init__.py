"""Neural building blocks shared by the models (imports torch)."""
from __future__ import annotations

from .gated_cnn import GatedResidualConv, GatedResidualStack
from .self_terminating import SelfTerminatingOutput

__all__ = ["GatedResidualConv", "GatedResidualStack", "SelfTerminatingOutput"]
