"""zhnlp: a Chinese NLP toolkit.

Word discovery and segmentation need no neural model and import neither torch nor transformers;
everything is imported lazily so that `import zhnlp` stays cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "discover_words": ("zhnlp.discovery", "discover_words"),
    "DiscoveryConfig": ("zhnlp.discovery", "DiscoveryConfig"),
    "Lexicon": ("zhnlp.discovery", "Lexicon"),
    "WordEntry": ("zhnlp.discovery", "WordEntry"),
    "Segmenter": ("zhnlp.segmentation", "Segmenter"),
    "find_templates": ("zhnlp.templates", "find_templates"),
    "TemplateConfig": ("zhnlp.templates", "TemplateConfig"),
    "TemplateSet": ("zhnlp.templates", "TemplateSet"),
    "TemplateParser": ("zhnlp.templates", "TemplateParser"),
    "WoBertTokenizer": ("zhnlp.wobert", "WoBertTokenizer"),
    "build_vocab": ("zhnlp.wobert", "build_vocab"),
    "ZhnlpError": ("zhnlp.errors", "ZhnlpError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zhnlp' has no attribute {name!r}")
