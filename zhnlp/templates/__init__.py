"""Sentence templates and structure (最小熵原理(三) "飞象过河"): find templates, parse sentences."""
from .finder import TemplateConfig, find_templates
from .parser import ParseNode, TemplateParser
from .templateset import Template, TemplateSet

__all__ = ["ParseNode", "Template", "TemplateConfig", "TemplateParser", "TemplateSet", "find_templates"]
