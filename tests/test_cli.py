"""The command line: results, formats, and every bad input ending in a message and exit 1."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from zhnlp import __version__
from zhnlp.cli.main import app

from .conftest import SHARED_DATA, requires_data

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def rows(output: str) -> list[list[str]]:
    return [line.split("\t") for line in output.splitlines() if line]


def test_version_and_info_json():
    assert run("--version").stdout.strip() == f"zhnlp {__version__}"
    result = run("info", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    from zhnlp._native import COMPILED

    assert data["version"] == __version__ and data["compiled_extension"] is COMPILED
    assert {"torch", "cuda_available", "model_paths"} <= set(data)


def test_discover_words_prints_tsv_most_frequent_first(corpus_file, language):
    result = run("discover-words", corpus_file, "--min-count", 5, "--quiet", "--min-length", 2)
    assert result.exit_code == 0, result.stderr
    table = rows(result.stdout)
    counts = [int(r[1]) for r in table]
    assert len(table) >= 0.9 * len(language[0])  # nearly every planted word, so an empty output fails
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert {r[0] for r in table} <= set(language[0])
    assert all(len(r) == 3 and float(r[2]) > 0 for r in table)


def test_top_and_formats(corpus_file, tmp_path):
    result = run("discover-words", corpus_file, "--min-count", 5, "-q", "--top", 5, "--format", "jsonl")
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objects) == 5 and set(objects[0]) == {"word", "count", "score"}
    result = run("discover-words", corpus_file, "--min-count", 5, "-q", "--format", "json")
    assert len(json.loads(result.stdout)["words"]) > 5


def test_jieba_format_loads_as_a_jieba_user_dictionary(corpus_file, tmp_path):
    jieba = pytest.importorskip("jieba")
    out = tmp_path / "user.dict"
    result = run("discover-words", corpus_file, "--min-count", 5, "-q", "--format", "jieba", "-o", out)
    assert result.exit_code == 0, result.stderr
    first = out.read_text(encoding="utf-8").splitlines()[0].split(" ")
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(out))
    assert tokenizer.FREQ[first[0]] == int(first[1])


def test_stdin_and_crlf_and_bom_give_the_same_words(corpus_file, tmp_path):
    text = corpus_file.read_text(encoding="utf-8")
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    base = run("discover-words", corpus_file, "--min-count", 5, "-q").stdout
    assert run("discover-words", crlf, "--min-count", 5, "-q").stdout == base
    assert run("discover-words", "-", "--min-count", 5, "-q", input=text).stdout == base


def test_gbk_input_needs_its_encoding(corpus_file, tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(("第一行是好的\n" + corpus_file.read_text(encoding="utf-8")).encode("gbk"))
    result = run("discover-words", gbk, "-q")
    assert result.exit_code == 1
    assert f"{gbk}, line 1" in result.stderr and "--encoding gb18030" in result.stderr
    assert "Traceback" not in result.output
    ok = run("discover-words", gbk, "-q", "--encoding", "gb18030", "--min-count", 5)
    assert ok.exit_code == 0 and ok.stdout == run("discover-words", corpus_file, "-q", "--min-count", 5).stdout


def test_undecodable_byte_names_its_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("天下大势\n分久必合\n".encode() + b"\xff\xfe\xfd\n")
    result = run("discover-words", bad, "-q")
    assert result.exit_code == 1 and f"{bad}, line 3" in result.stderr


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"  \n\n", "is empty"),
                                               (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary data")])
def test_empty_and_binary_files(tmp_path, content, message):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    result = run("discover-words", path, "-q")
    assert result.exit_code == 1 and message in result.stderr and "fix:" in result.stderr


def test_missing_input_and_bad_output_paths(corpus_file, tmp_path):
    result = run("discover-words", tmp_path / "nope.txt")
    assert result.exit_code == 1 and "no such file" in result.stderr
    result = run("discover-words", corpus_file, "-o", tmp_path / "no" / "dir" / "out.tsv")
    assert result.exit_code == 1 and "mkdir -p" in result.stderr
    out = tmp_path / "out.tsv"
    out.write_text("keep me", encoding="utf-8")
    result = run("discover-words", corpus_file, "-o", out)
    assert result.exit_code == 1 and "--force" in result.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    assert run("discover-words", corpus_file, "-o", out, "--force", "-q", "--min-count", 5).exit_code == 0
    assert out.read_text(encoding="utf-8").count("\t") > 10


def test_bad_option_exits_2(corpus_file):
    assert run("discover-words", corpus_file, "--max-len", 20).exit_code == 2
    assert run("discover-words", corpus_file, "--format", "xml").exit_code == 2


def test_interrupt_leaves_no_output_and_no_temporary_file(corpus_file, tmp_path, monkeypatch):
    import zhnlp.lexicon

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zhnlp.lexicon.Lexicon, "write", interrupted)
    out = tmp_path / "out.tsv"
    result = run("discover-words", corpus_file, "-o", out, "-q", "--min-count", 5)
    assert result.exit_code == 1 and "interrupted" in result.stderr and "nothing was written" in result.stderr
    assert list(tmp_path.iterdir()) == [corpus_file]


def test_an_interrupted_job_that_saved_its_state_says_how_to_resume(corpus_file, monkeypatch):
    import zhnlp.lexicon
    from zhnlp.errors import Interrupted

    def interrupted(*args, **kwargs):
        raise Interrupted("a checkpoint was saved at step 7; run the same command to resume")

    monkeypatch.setattr(zhnlp.lexicon.Lexicon, "write", interrupted)
    result = run("discover-words", corpus_file, "-q", "--min-count", 5)
    assert result.exit_code == 1 and "saved at step 7" in result.stderr and "nothing was written" not in result.stderr


def test_a_huge_single_line_is_streamed(tmp_path, language, monkeypatch):
    import zhnlp.textio

    monkeypatch.setattr(zhnlp.textio, "BLOCK_BYTES", 1 << 16)
    line = "".join(language[1]).replace("\n", "")  # ~200 KB, one line, read in 64 KB blocks
    path = tmp_path / "one_line.txt"
    path.write_text(line, encoding="utf-8")
    result = run("discover-words", path, "-q", "--min-count", 5, "--min-length", 2)
    assert result.exit_code == 0, result.stderr
    assert {r[0] for r in rows(result.stdout)} <= set(language[0])
    assert len(rows(result.stdout)) >= 0.8 * len(language[0])


def test_segment_streams_one_line_per_line(corpus_file, tmp_path):
    lexicon = tmp_path / "lex.tsv"
    assert run("discover-words", corpus_file, "-q", "--min-count", 5, "-o", lexicon).exit_code == 0
    lines = corpus_file.read_text(encoding="utf-8").splitlines()
    result = run("segment", corpus_file, "--lexicon", lexicon, "-q")
    assert result.exit_code == 0, result.stderr
    out = result.stdout.splitlines()
    assert len(out) == len(lines)
    assert [o.replace(" ", "") for o in out] == lines
    assert run("segment", "-", "--lexicon", lexicon, input="\n".join(lines[:3]) + "\n").stdout.splitlines() == out[:3]


def test_segment_with_a_missing_or_malformed_lexicon(corpus_file, tmp_path):
    result = run("segment", corpus_file, "--lexicon", tmp_path / "none.tsv")
    assert result.exit_code == 1 and "discover-words" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"words": [', encoding="utf-8")
    result = run("segment", corpus_file, "--lexicon", bad)
    assert result.exit_code == 1 and "line 1" in result.stderr and "malformed JSON" in result.stderr


def test_word_commands_never_import_torch(corpus_file, tmp_path):
    code = ("import sys; from zhnlp.cli.main import app; from typer.testing import CliRunner; "
            f"r = CliRunner().invoke(app, ['discover-words', {str(corpus_file)!r}, '-q']); "
            "assert r.exit_code == 0, r.output; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@requires_data
def test_end_to_end_on_the_four_novels(tmp_path):
    out = tmp_path / "words.tsv"
    result = run("discover-words", SHARED_DATA / "corpus" / "sidamingzhu.txt", "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    top = [line.split("\t")[0] for line in out.read_text(encoding="utf-8").splitlines()
           if len(line.split("\t")[0]) > 1][:300]
    for name in ("宝玉", "孔明", "宋江", "行者", "黛玉", "玄德"):
        assert name in top, name
