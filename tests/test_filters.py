"""What every line-per-line command (segment, tokenize, parse, couplet) and every writer share: a blank
line in gives a blank line out, an empty stdin gives nothing, stdin is answered as it arrives, files
keep the usual permissions; model folders have a type; a missing optional dependency is one clear
line. None of these needs torch."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from zhnlp.cli.main import app

from .conftest import random_couplet_folder

runner = CliRunner()
VOCAB = ["[PAD]", "[UNK]", "，", "。", *"天地山水风云日月春秋花鸟红绿"]
TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"天地山水风云日月春秋花鸟红绿的是", "天地", "山水"]


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("filters")
    (folder / "words.tsv").write_text("天地\t50\t1.0\n山水\t40\t1.0\n风云\t30\t1.0\n", encoding="utf-8")
    (folder / "templates.tsv").write_text("X 的 X\t20\nX 是 X\t10\n", encoding="utf-8")
    (folder / "vocab.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    random_couplet_folder(folder / "couplet", VOCAB)
    return folder


def _commands(files):
    return {"segment": ["segment", "-", "-l", files / "words.tsv"],
            "tokenize": ["tokenize", "-", "--vocab", files / "vocab.txt"],
            "parse": ["parse", "-", "-t", files / "templates.tsv", "-l", files / "words.tsv"],
            "couplet": ["couplet", "-", "--model", files / "couplet", "--device", "cpu"]}


@pytest.mark.parametrize("command", ["segment", "tokenize", "parse", "couplet"])
def test_a_blank_line_in_gives_a_blank_line_out(files, command):
    result = run(*_commands(files)[command], input="天地山水\n\n  \n风云日月\n")
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")
    assert out[1] == "" and out[2] == "" and out[0] and out[3] and out[4:] == [""]  # one line per line


@pytest.mark.parametrize("command", ["segment", "tokenize", "parse", "couplet", "templates"])
def test_empty_stdin_prints_nothing_and_exits_0(files, command):
    args = _commands(files).get(command, ["templates", "-", "-l", files / "words.tsv", "-q"])
    result = run(*args, input="")
    assert result.exit_code == 0 and result.stdout == "", result.output


def test_an_empty_file_argument_still_warns(files, tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    result = run("segment", tmp_path / "empty.txt", "-l", files / "words.tsv")
    assert result.exit_code == 1 and "empty" in result.stderr


@pytest.mark.parametrize("command", ["segment", "couplet"])
def test_piped_stdin_is_answered_line_by_line_before_the_input_ends(files, command):
    """A reader of the pipe sees the answer to the first line while the writer still holds the pipe open."""
    args = [sys.executable, "-m", "zhnlp.cli.main", *map(str, _commands(files)[command])]
    process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        process.stdin.write("天地山水\n".encode("utf-8"))
        process.stdin.flush()
        first = process.stdout.readline().decode("utf-8")  # blocks until it is written: the test would hang
        assert len(first.strip().replace(" ", "")) == 4
        process.stdin.write("风云\n".encode("utf-8"))
        process.stdin.close()
        assert len(process.stdout.readline().decode("utf-8").strip().replace(" ", "")) == 2
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()


def test_outputs_follow_the_umask_and_force_keeps_an_existing_mode(files, tmp_path):
    previous = os.umask(0o022)
    try:
        target = tmp_path / "out.txt"
        assert run("segment", "-", "-l", files / "words.tsv", "-o", target, input="天地\n").exit_code == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        os.chmod(target, 0o640)
        assert run("segment", "-", "-l", files / "words.tsv", "-o", target, "--force", input="山水\n").exit_code == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text(encoding="utf-8") == "山水\n"
        os.umask(0o077)
        private = tmp_path / "private.txt"
        assert run("segment", "-", "-l", files / "words.tsv", "-o", private, input="天地\n").exit_code == 0
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        os.umask(previous)


def test_a_model_folder_of_another_kind_is_refused_by_name(files, tmp_path):
    wobert = tmp_path / "wobert-tiny"
    wobert.mkdir()
    (wobert / "config.json").write_text('{"model_type": "bert", "vocab_size": 24}', encoding="utf-8")
    (wobert / "tokenizer_config.json").write_text('{"tokenizer_class": "WoBertTokenizer"}', encoding="utf-8")
    (wobert / "vocab.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    (wobert / "model.safetensors").write_bytes(b"not read")
    result = run("couplet", "春风送暖", "--model", wobert)
    assert result.exit_code == 1
    assert f"error: {wobert}/ holds a wobert model, not a couplet model" in result.stderr
    assert "fix: zhnlp train couplet" in result.stderr and "Traceback" not in result.output
    result = run("train", "couplet-memory", "--data", tmp_path, "--model", wobert, "-o", tmp_path / "memory")
    assert result.exit_code == 1 and "holds a wobert model, not a couplet model" in result.stderr
    assert not (tmp_path / "memory").exists()
    untyped = tmp_path / "untyped"
    untyped.mkdir()
    (untyped / "config.json").write_text("{}", encoding="utf-8")
    result = run("couplet", "春风送暖", "--model", untyped)
    assert result.exit_code == 1 and "config.json has no model_type" in result.stderr


def test_every_zhnlp_folder_says_its_type(files):
    from zhnlp.couplet import default_model_dir
    from zhnlp.hub import model_type_of

    assert model_type_of(files / "couplet") == "couplet" and model_type_of(default_model_dir()) == "couplet"
    from zhnlp.wobert import WoBertTokenizer

    WoBertTokenizer(files / "vocab.txt").save_pretrained(files / "tok")
    (files / "tok" / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    assert model_type_of(files / "tok") == "wobert"


def test_a_command_that_needs_torch_says_how_to_install_it(files, tmp_path, monkeypatch):
    from zhnlp import optional

    monkeypatch.setattr(optional, "available", lambda package: package not in ("torch", "transformers"))
    result = run("train", "couplet", "--data", tmp_path, "-o", tmp_path / "model")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: zhnlp train couplet needs PyTorch",
                                          '  fix: pip install "zhnlp[torch]"']
    from zhnlp.errors import ZhnlpError
    from zhnlp.wobert import WoBertTokenizer

    with pytest.raises(ZhnlpError, match="needs PyTorch"):
        WoBertTokenizer(files / "vocab.txt")("天地", return_tensors="pt")
    from zhnlp.couplet import Couplet

    assert Couplet.from_pretrained(files / "couplet")("天地") != ""  # the CPU path needs no torch


def test_help_imports_neither_the_couplet_machinery_nor_numpy():
    code = ("import sys; from zhnlp.cli.main import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
            "r = CliRunner().invoke(app, ['couplet', '--help']); assert r.exit_code == 0 and 'lower line' in r.stdout; "
            "heavy = [m for m in ('numpy', 'torch', 'zhnlp.couplet.couplet', 'zhnlp.couplet.decode') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_heavy_jobs_say_once_when_they_run_on_the_pure_python_kernels(files, tmp_path, monkeypatch):
    from zhnlp import _native
    from zhnlp.cli import common

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("天地山水风云日月\n" * 50, encoding="utf-8")
    monkeypatch.setattr(common, "_NOTICED", set())
    quiet_run = run("discover-words", corpus, "-q", "--min-count", 2)
    assert quiet_run.exit_code == 0 and "pure-Python" not in quiet_run.stderr  # the compiled kernels: nothing said
    monkeypatch.setattr(_native, "COMPILED", False)
    monkeypatch.delenv("ZHNLP_PURE_PYTHON", raising=False)
    result = run("discover-words", corpus, "-q", "--min-count", 2)
    assert result.exit_code == 0
    assert result.stderr.count("pure-Python kernels") == 1 and "reinstall" in result.stderr
    again = run("segment", "-", "-l", files / "words.tsv", input="天地\n")
    assert "pure-Python" not in again.stderr  # once per process


def test_discover_words_that_finds_nothing_says_which_option_to_change(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("一二三四五六七八九十\n", encoding="utf-8")
    result = run("discover-words", corpus, "-q")
    assert result.exit_code == 0 and result.stdout == ""
    assert "warning: no words found in 10 characters" in result.stderr and "--min-count" in result.stderr


@pytest.mark.parametrize("content, message", [
    ("X 的 X\t120\n", "is not a word but a sentence template: this is a templates file"),
    ("宝玉\tabc\n", "line 1: expected 'word count'"),
    ("宝玉\t3\n\x00\x01\n", "line 2: binary data"),
])
def test_a_bad_lexicon_is_a_clear_error_naming_its_line(tmp_path, content, message):
    lexicon = tmp_path / "lexicon.tsv"
    lexicon.write_text(content, encoding="utf-8")
    result = run("segment", "-", "-l", lexicon, input="宝玉\n")
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    assert "invalid literal" not in result.stderr


def test_random_bytes_are_not_taken_for_gbk(tmp_path):
    noise = tmp_path / "noise.tsv"
    noise.write_bytes(bytes(range(0x80, 0x100)) * 4)
    result = run("segment", "-", "-l", noise, input="宝玉\n")
    assert result.exit_code == 1 and "not a text file" in result.stderr and "iconv" not in result.stderr
    gbk = tmp_path / "gbk.tsv"
    gbk.write_bytes("宝玉\t3\n".encode("gbk"))
    result = run("segment", "-", "-l", gbk, input="宝玉\n")
    assert result.exit_code == 1 and "iconv -f gb18030" in result.stderr


@pytest.mark.parametrize("content, message", [
    ("X 的 X\t12\n\t\t\n", "line 2: expected 'template<TAB>count'"),
    ("X 的 X\tmany\n", "line 1: the count 'many' is not a whole number"),
    ("X 的 X\t12\n\x00\n", "line 2: binary data"),
])
def test_a_bad_templates_file_is_a_clear_error_naming_its_line(tmp_path, content, message):
    templates = tmp_path / "templates.tsv"
    templates.write_text(content, encoding="utf-8")
    result = run("parse", "天地", "-t", templates)
    assert result.exit_code == 1 and message in result.stderr and "invalid literal" not in result.stderr


def test_build_vocab_makes_its_folder_with_a_loadable_tokenizer(tmp_path):
    from zhnlp.wobert import WoBertTokenizer

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("我们去北京清华大学玩\n我们喜欢北京\n" * 20, encoding="utf-8")
    (tmp_path / "base.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    result = run("wobert", "build-vocab", corpus, "--base-vocab", tmp_path / "base.txt", "--words", 3,
                 "-o", tmp_path / "fresh" / "vocab.txt", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh" / "tokenizer_config.json").is_file()
    loaded = WoBertTokenizer.from_pretrained(tmp_path / "fresh")
    assert {"我们", "北京"} & set(loaded.vocab) and loaded.tokenize("我们去北京")[0] == "我们"
