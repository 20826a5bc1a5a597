"""zhnlp: a Chinese NLP toolkit.

Word discovery and segmentation need no neural model and import neither torch nor transformers;
everything is imported lazily so that `import zhnlp` stays cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"

from ._lazy import lazy_names  # noqa: E402

_LAZY = {
    "discover_words": "zhnlp.discovery",
    "DiscoveryConfig": "zhnlp.discovery",
    "Lexicon": "zhnlp.discovery",
    "WordEntry": "zhnlp.discovery",
    "Segmenter": "zhnlp.segmentation",
    "find_templates": "zhnlp.templates",
    "TemplateConfig": "zhnlp.templates",
    "TemplateSet": "zhnlp.templates",
    "TemplateParser": "zhnlp.templates",
    "WoBertTokenizer": "zhnlp.wobert",
    "build_vocab": "zhnlp.wobert",
    "ZhnlpError": "zhnlp.errors",
}

__all__ = ["__version__", *_LAZY]

__getattr__ = lazy_names(globals(), _LAZY)
