"""Sentence templates and parsing (最小熵原理(三)): planted templates are found, nested
templates parse into the tree they were built from, pair counts agree with a plain count, and
matching means what zhnlp.templates.parser documents."""
from __future__ import annotations

import json
import random
from array import array
from collections import Counter
from math import log

import pytest

from zhnlp._native import kernels, pure
from zhnlp.templates import Template, TemplateParser, TemplateSet, find_templates
from zhnlp.templates.finder import WordVocab

from .conftest import ALPHABET, SHARED_DATA, requires_data

# each planted template: (words with None for a slot); slots take 1-2 filler words
PLANTED = [
    (None, "的", None, "是", "什么"),
    (None, "可以", None, "吗"),
    (None, "和", None, "一起", "去"),
]
TEMPLATE_CHARS = set("".join(w for t in PLANTED for w in t if w))


def make_template_corpus(seed=0, n_sentences=4000, share_planted=0.3):
    """(fillers, lines): 30% of the sentences instantiate a planted template, the rest are fillers."""
    rng = random.Random(seed)
    chars = [c for c in ALPHABET if c not in TEMPLATE_CHARS]
    fillers = sorted({"".join(rng.sample(chars, 2)) for _ in range(400)})
    lines = []
    for _ in range(n_sentences):
        if rng.random() < share_planted:
            template = rng.choice(PLANTED)
            words = []
            for w in template:
                words.extend(rng.sample(fillers, rng.randint(1, 2)) if w is None else [w])
        else:
            words = rng.sample(fillers, rng.randint(3, 7))
        lines.append(" ".join(words))
    return fillers, lines


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    fillers, lines = make_template_corpus()
    folder = tmp_path_factory.mktemp("templates")
    corpus = folder / "corpus.txt"
    # words are written without spaces, as Chinese is; the lexicon tells the segmenter the words
    corpus.write_text("\n".join(line.replace(" ", "") + "。" for line in lines) + "\n", encoding="utf-8")
    counts = Counter(w for line in lines for w in line.split())
    lexicon = folder / "words.tsv"
    lexicon.write_text("".join(f"{w}\t{c}\t0\n" for w, c in counts.most_common()), encoding="utf-8")
    return fillers, corpus, lexicon


def test_planted_templates_come_out_on_top(planted):
    fillers, corpus, lexicon = planted
    found = find_templates(corpus, lexicon)
    # every source-to-sink path is a template, so 的 -> 什么 (skipping 是, still inside the window)
    # and 和 -> 去 give two shorter companions exactly as frequent as their planted templates
    companions = {(None, "的", None, "什么"), (None, "和", None, "去")}
    top = found.listing(top=5, min_words=2)
    assert {t.words for t in top} == set(PLANTED) | companions
    counts = {t.words: t.count for t in found}
    for t in PLANTED:  # each planted template stands for about a tenth of the sentences
        assert 300 < counts[t] < 500, (t, counts[t])
    runner_up = found.listing(top=6, min_words=2)[5]
    assert any(w in fillers for w in runner_up.words) and runner_up.count < 10
    assert found.total == sum(t.count for t in found)
    assert found.stats["skipped_sentences"] == 0


def test_parse_of_two_nested_templates_gives_that_tree(planted):
    fillers, corpus, lexicon = planted
    found = find_templates(corpus, lexicon)
    parser = TemplateParser(found, lexicon)
    a, b, c = fillers[:3]
    # (a 和 b 一起 去) 的 c 是 什么: one template inside the first slot of another
    tree = parser.parse(f"{a}和{b}一起去的{c}是什么")
    assert str(tree.template) == "X 的 X 是 什么"
    assert (tree.start, tree.end) == (0, 9)
    inner, last = tree.children
    assert str(inner.template) == "X 和 X 一起 去"
    assert inner.words == [a, "和", b, "一起", "去"]
    assert [child.words for child in inner.children] == [[a], [b]]
    assert last.words == [c] and last.children == []
    assert tree.label() == f"({a}和{b}一起去)的({c})是什么"
    as_dict = tree.to_dict()
    assert as_dict["template"] == "X 的 X 是 什么" and as_dict["span"] == [0, 9]
    assert as_dict["children"][0]["template"] == "X 和 X 一起 去"


def test_templates_round_trip_through_every_format(planted, tmp_path):
    _, corpus, lexicon = planted
    found = find_templates(corpus, lexicon)
    for fmt in ("tsv", "json", "jsonl"):
        path = tmp_path / f"t.{fmt}"
        found.save(path, fmt)
        back = TemplateSet.load(path)
        assert [(t.words, t.count) for t in back] == [(t.words, t.count) for t in found]
        assert back.total == found.total


def test_pair_counts_equal_a_plain_count():
    rng = random.Random(1)
    ids = array("I")
    sentences = []
    for _ in range(300):
        sentence = [rng.randint(1, 40) for _ in range(rng.randint(1, 15))]
        sentences.append(sentence)
        ids.extend(sentence)
        ids.append(0)
    window = 4
    expected, expected_total = Counter(), 0
    for s in sentences:
        for i, a in enumerate(s):
            for b in s[i + 1:i + 1 + window]:
                expected[a, b] += 1
                expected_total += 1
    eligible = bytes([0] + [1] * 40)
    for module in (kernels, pure):
        counter = module.NgramCounter(order=2, nparts=2)
        for part in range(2):
            counter.count_pairs(ids, window, eligible, part)
        assert counter.total_pairs == expected_total
        assert all(counter.get_pair(a, b) == n for (a, b), n in expected.items())
        assert len(counter) == len(expected)
    # ineligible words are left out of the table, not out of the total
    counter = kernels.NgramCounter(order=2, nparts=1)
    counter.count_pairs(ids, window, bytes([0] + [1] * 20 + [0] * 20), 0)
    assert counter.total_pairs == expected_total
    assert len(counter) == sum(1 for a, b in expected if a <= 20 and b <= 20)


def _matcher(templates, module=kernels):
    vocab = WordVocab()
    encoded = [tuple(0 if w is None else vocab.ids.setdefault(w, len(vocab.ids) + 1) for w in t)
               for t in templates]
    return module.TemplateMatcher(encoded, [log(0.1)] * len(encoded)), vocab.ids


@pytest.mark.parametrize("module", [kernels, pure], ids=["compiled", "pure"])
def test_a_match_skips_no_word_and_a_slot_takes_at_least_one(module):
    matcher, ids = _matcher([("的", "是"), (None, "吗")], module)
    encode = lambda words: [ids.get(w, 0) for w in words]  # noqa: E731
    # ("的", "是") covers exactly 的 是; nlp_zero would also match 的 X 是 by skipping X
    assert matcher.parse(encode(["的", "是"]))[0] == 0
    assert matcher.parse(encode(["的", "好", "是"]))[0] == -1
    # a slot needs one or more words: "吗" alone is no match of "X 吗"; "好 好 吗" is
    assert matcher.parse(encode(["吗"]))[0] == -1
    tree = matcher.parse(encode(["好", "好", "吗"]))
    assert tree[0] == 1 and tree[3] == (2,) and tree[4] == [(-1, 0, 2, (0, 1), [])]


def test_null_spans_cost_twenty_per_extra_word_and_ties_prefer_more_words():
    templates = TemplateSet([Template((None, "的", None), 10), Template((None, "的", None, "了"), 10)])
    parser = TemplateParser(templates, {"我": 1, "的": 1, "书": 1, "了": 1})
    tree = parser.parse_words(["我", "的", "书", "了"])
    # X 的 X (X = 书 了, a null span: -20) loses to X 的 X 了 (same probability, no null span)
    assert str(tree.template) == "X 的 X 了"
    tied = parser.parse_words(["我", "的", "书"])
    assert str(tied.template) == "X 的 X"
    assert parser.parse_words([]) is None
    assert parser.parse("") is None
    plain = TemplateParser(TemplateSet([Template((None, "的", None), 10)]), {"我": 1})
    assert plain.parse_words(["你", "好"]).template is None


def test_bad_templates_are_refused():
    with pytest.raises(ValueError):
        kernels.TemplateMatcher([(0, 0, 5)], [0.0])
    with pytest.raises(ValueError):
        kernels.TemplateMatcher([(0,)], [0.0])
    with pytest.raises(ValueError):
        pure.TemplateMatcher([(1, 0, 0)], [0.0])


# ------------------------------------------------------------------ the command line
def _run(*args, input=None):
    from typer.testing import CliRunner

    from zhnlp.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def test_cli_templates_then_parse(planted, tmp_path):
    fillers, corpus, lexicon = planted
    listing = _run("templates", corpus, "--lexicon", lexicon, "--top", 5, "--min-words", 2, "-q")
    assert listing.exit_code == 0, listing.stderr
    lines = [line.split("\t") for line in listing.stdout.splitlines()]
    assert {words for words, _ in lines} >= {"X 的 X 是 什么", "X 可以 X 吗", "X 和 X 一起 去"}
    assert [int(c) for _, c in lines] == sorted((int(c) for _, c in lines), reverse=True)
    # trivial templates are hidden unless --all
    assert not any(t.count("X") == 2 and len(t.split()) == 3 for t, _ in rows(_run(
        "templates", corpus, "-l", lexicon, "-q").stdout))
    saved = tmp_path / "templates.tsv"
    assert _run("templates", corpus, "-l", lexicon, "--all", "-o", saved, "-q").exit_code == 0
    assert _run("templates", corpus, "-l", lexicon, "--all", "-o", saved, "-q").exit_code == 1  # no --force

    a, b, c = fillers[:3]
    sentences = tmp_path / "sentences.txt"
    sentences.write_text(f"{a}和{b}一起去的{c}是什么\n\n{a}可以{b}吗\n", encoding="utf-8")
    parsed = _run("parse", sentences, "--templates", saved, "--lexicon", lexicon, "--json")
    assert parsed.exit_code == 0, parsed.stderr
    out_lines = parsed.stdout.split("\n")
    assert len(out_lines) == 4 and out_lines[1] == "" and out_lines[3] == ""  # a blank line in, a blank line out
    trees = [json.loads(out_lines[0])[0], json.loads(out_lines[2])[0]]  # one list of sentence trees per line
    assert trees[0]["template"] == "X 的 X 是 什么" and trees[0]["children"][0]["template"] == "X 和 X 一起 去"
    assert trees[1]["template"] == "X 可以 X 吗" and trees[1]["span"] == [0, 4]
    # punctuation ends a sentence and never lands in a slot: one tree per sentence
    two = json.loads(_run("parse", f"{a}可以{b}吗？{a}和{b}一起去", "-t", saved, "-l", lexicon, "--json").stdout)
    assert [t["template"] for t in two] == ["X 可以 X 吗", "X 和 X 一起 去"]
    assert not any(mark in json.dumps(two, ensure_ascii=False) for mark in "？，")
    shown = _run("parse", f"{a}可以{b}吗", "-t", saved, "-l", lexicon)
    assert shown.exit_code == 0 and "X 可以 X 吗" in shown.stdout and f"({a})可以({b})吗" in shown.stdout
    piped = _run("parse", "-", "-t", saved, "-l", lexicon, "--json", input=f"{a}可以{b}吗\n")
    assert json.loads(piped.stdout)[0]["template"] == "X 可以 X 吗"
    trees_file, text_file = tmp_path / "trees.jsonl", tmp_path / "trees.txt"
    assert _run("parse", sentences, "-t", saved, "-l", lexicon, "--json", "-o", trees_file).stdout == ""
    assert trees_file.read_text(encoding="utf-8") == parsed.stdout
    assert _run("parse", f"{a}可以{b}吗", "-t", saved, "-l", lexicon, "-o", text_file).exit_code == 0
    assert "X 可以 X 吗" in text_file.read_text(encoding="utf-8") and "\x1b[" not in text_file.read_text(encoding="utf-8")
    assert _run("parse", sentences, "-t", saved, "-l", lexicon, "-o", trees_file).exit_code == 1  # no --force


def rows(output):
    return [line.split("\t") for line in output.splitlines() if line]


def test_cli_bad_inputs(planted, tmp_path):
    _, corpus, lexicon = planted
    missing = _run("parse", "你好", "--templates", tmp_path / "none.tsv")
    assert missing.exit_code == 1 and "templates file not found" in missing.stderr
    assert "zhnlp templates" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    result = _run("templates", empty, "-l", lexicon, "-q")
    assert result.exit_code == 1 and "empty" in result.stderr and "Traceback" not in result.output
    result = _run("templates", tmp_path / "nope.txt", "-l", lexicon)
    assert result.exit_code == 1 and "no such file" in result.stderr
    result = _run("templates", corpus, "-l", tmp_path / "nope.tsv")
    assert result.exit_code == 1 and "lexicon not found" in result.stderr
    result = _run("templates", "-", input="你好\n")
    assert result.exit_code == 1 and "--lexicon" in result.stderr
    bad = tmp_path / "bad.tsv"
    bad.write_text("X 的 X\t12\nX X 的\t3\n", encoding="utf-8")
    result = _run("parse", "你好", "-t", bad)
    assert result.exit_code == 1 and "line 2" in result.stderr
    bad.write_text("X 的 X\tmany\n", encoding="utf-8")
    assert "line 1" in _run("parse", "你好", "-t", bad).stderr
    result = _run("parse", "missing/file.txt", "-t", bad)
    assert result.exit_code == 1
    result = _run("templates", corpus, "-l", lexicon, "--window", 0)
    assert result.exit_code == 2
    gbk = tmp_path / "gbk.tsv"
    gbk.write_bytes("X 的 X\t12\n".encode("utf-8") + "X 是 X\t3\n".encode("gbk"))
    result = _run("parse", "你好", "-t", gbk)
    assert result.exit_code == 1 and "line 2" in result.stderr and "iconv" in result.stderr
    no_trivial = tmp_path / "no_trivial.tsv"
    no_trivial.write_text("X 的 X 是 什么\t5\n", encoding="utf-8")
    warned = _run("parse", "我的书是什么", "-t", no_trivial)
    assert warned.exit_code == 0 and "--all" in warned.stderr


@requires_data
def test_templates_on_the_four_novels():
    found = find_templates(SHARED_DATA / "corpus" / "sidamingzhu.txt")
    top = [str(t) for t in found.listing(top=40, min_words=2)]
    assert "第 X 回" in top and "X 问 道" in top  # chapter headings and the speech tag
    assert found.lexicon is not None and "宝玉" in found.lexicon


def test_cli_discovers_words_when_no_lexicon_is_given(planted, tmp_path):
    _, corpus, _ = planted
    saved, words = tmp_path / "t.jsonl", tmp_path / "words.tsv"
    result = _run("templates", corpus, "--all", "-o", saved, "--save-lexicon", words, "-q")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
    assert {"template", "words", "count"} <= set(records[0]) and words.is_file()
    assert any(r["template"] == "X 可以 X 吗" for r in records)
    parsed = _run("parse", "天地可以山水吗", "-t", saved, "-l", words, "--json")
    assert parsed.exit_code == 0 and json.loads(parsed.stdout)[0]["template"] is not None
