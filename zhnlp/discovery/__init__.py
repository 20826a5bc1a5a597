"""Word discovery: the words of a corpus, found with no dictionary (最小熵原理(二))."""
from ..lexicon import Lexicon, WordEntry
from .finder import DiscoveryConfig, discover_words, remove_redundancy

__all__ = ["DiscoveryConfig", "Lexicon", "WordEntry", "discover_words", "remove_redundancy"]
