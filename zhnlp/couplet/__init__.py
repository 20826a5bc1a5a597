"""Couplets by CNN sequence labelling (基于CNN和序列标注的对联机器人, kexue.fm/archives/6270)."""
from __future__ import annotations

from .couplet import Couplet, CoupletAnswer, default_model_dir
from .decode import constrained_decode, plain_decode, rule_violations
from .model import CoupletConfig, CoupletModel
from .train import evaluate_couplet, score_lines, train_couplet

__all__ = ["Couplet", "CoupletAnswer", "CoupletConfig", "CoupletModel", "constrained_decode", "default_model_dir",
           "evaluate_couplet", "plain_decode", "rule_violations", "score_lines", "train_couplet"]
