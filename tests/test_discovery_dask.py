"""Word discovery on Dask (a real LocalCluster of 2 worker processes) gives the single-process lexicon
exactly, over several files, byte ranges that split lines anywhere, a worker that dies mid-job, and
fsspec URLs; its errors are the single-process run's."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from zhnlp import discover_words
from zhnlp.discovery.distributed import ByteRange, split_inputs
from zhnlp.errors import InputError, ZhnlpError
from zhnlp.optional import MissingDependencyError

from .conftest import SHARED_DATA, make_language

CORPUS = SHARED_DATA / "corpus" / "modern_zh.txt"


def entries(lexicon):
    return [(e.word, e.count, e.score) for e in lexicon]


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="needs the dask extra: pip install 'zhnlp[dask]'")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as connected:
        yield connected
    cluster.close()


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    """Three files of a synthetic language, one of them in a folder with a second file."""
    folder = tmp_path_factory.mktemp("dask-corpus")
    lines = make_language(seed=3, n_sentences=9000)[1]
    (folder / "sub").mkdir()
    paths = [folder / "a.txt", folder / "sub" / "b.txt", folder / "sub" / "c.txt"]
    for i, path in enumerate(paths):
        path.write_text("\n".join(lines[i::3]) + "\n", encoding="utf-8")
    return [paths[0], folder / "sub"]


def on_dask(inputs, client, range_bytes=20_000, partitions=0, **overrides):
    from zhnlp.discovery.distributed import discover_words_on_dask
    from zhnlp.discovery.finder import resolve_config

    return discover_words_on_dask(inputs, resolve_config(None, overrides), client, range_bytes=range_bytes,
                                  partitions=partitions)


@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_same_lexicon_as_one_process(client, corpus_files, iterations):
    single = discover_words(corpus_files, min_count=5, iterations=iterations)
    distributed = on_dask(corpus_files, client, min_count=5, iterations=iterations)
    assert distributed.stats["ranges"] > 8  # many ranges, in several waves
    assert entries(distributed) == entries(single) and len(single) > 50
    for key in ("chars", "distinct_chars", "distinct_ngrams", "cohesive_ngrams", "candidates", "words"):
        assert distributed.stats[key] == single.stats[key], key


@pytest.mark.data
def test_same_lexicon_as_one_process_on_real_text(client, tmp_path):
    if not CORPUS.exists():
        pytest.skip(f"{CORPUS} is absent")
    with open(CORPUS, "rb") as handle:
        head = handle.read(3_000_000)
    path = tmp_path / "head.txt"
    path.write_bytes(head[:head.rfind(b"\n") + 1])
    single = discover_words(path)
    distributed = on_dask([path], client, range_bytes=700_000, partitions=3)
    assert distributed.stats["ranges"] == 6  # 5 rounded up to a multiple of the 2 workers
    assert entries(distributed) == entries(single) and len(single) > 5000


def test_a_worker_that_dies_mid_job_changes_nothing(client, corpus_files, tmp_path):
    """A worker plugin kills its own process when the first counting task starts; the nanny starts a
    new worker, the scheduler reruns the lost tasks, and the lexicon is the same."""
    from distributed.diagnostics.plugin import WorkerPlugin

    marker = tmp_path / "kill-once"
    marker.touch()

    class KillOnce(WorkerPlugin):
        def __init__(self, path):
            self.path = path

        def transition(self, key, start, finish, **kwargs):
            name = key if isinstance(key, str) else str(key)
            if finish == "executing" and name.startswith("zhnlp-counting") and os.path.exists(self.path):
                os.remove(self.path)
                os._exit(1)

    client.register_plugin(KillOnce(str(marker)), name="kill-once")
    try:
        distributed = on_dask(corpus_files, client, min_count=5)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert not marker.exists()  # a worker did die
    assert entries(distributed) == entries(discover_words(corpus_files, min_count=5))


def test_fsspec_urls_and_globs(client, corpus_files):
    folder = Path(corpus_files[1])
    urls = [f"file://{corpus_files[0]}", f"file://{folder}/*.txt"]
    assert entries(on_dask(urls, client, min_count=5)) == entries(discover_words(corpus_files, min_count=5))


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(st.text(alphabet="天地人和。\r", max_size=12), min_size=1, max_size=30),
       range_bytes=st.integers(1, 60))
def test_byte_ranges_read_every_line_once(tmp_path_factory, lines, range_bytes):
    path = tmp_path_factory.mktemp("ranges") / "t.txt"
    text = "\n".join(lines) + ("\n" if len(lines) % 2 else "")  # with and without a final newline
    path.write_bytes(text.encode("utf-8"))
    ranges = split_inputs([path], range_bytes=range_bytes) if text else []
    read = b""
    for byte_range in ranges:
        with byte_range.open() as reader:
            while chunk := reader.read(7):
                read += chunk
    assert read == text.encode("utf-8")


def test_a_bad_byte_in_a_later_range_names_the_files_line(client, tmp_path):
    path = tmp_path / "mixed.txt"
    good = "天地玄黄宇宙洪荒\n" * 3000
    path.write_bytes(good.encode("utf-8") + "日月盈昃\n".encode("gbk") + b"\xe8\xbe\xb0\xe5\xae\xbf\n")
    with pytest.raises(InputError, match=r"mixed\.txt, line 3001: cannot decode as utf-8.*gb18030"):
        on_dask([path], client)
    assert ByteRange(str(path), 70_000, 80_000).lines_before_start() == 2800  # 25-byte lines; byte 69,999 ends one


def test_inputs_it_cannot_split(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.txt is empty"):
        split_inputs([empty])
    with pytest.raises(InputError, match="cannot read standard input"):
        split_inputs(["-"])
    with pytest.raises(InputError, match="no such file"):
        split_inputs([tmp_path / "missing.txt"])
    utf16 = tmp_path / "u16.txt"
    utf16.write_text("天地\n" * 1000, encoding="utf-16")
    assert len(split_inputs([utf16], "utf-16", range_bytes=100)) == 1  # never split inside a character


def test_bad_scheduler_and_missing_dask(corpus_files, monkeypatch):
    with pytest.raises(ZhnlpError, match="bad --scheduler 'spark'") as caught:
        discover_words(corpus_files, scheduler="spark")
    assert caught.value.exit_code == 2
    import zhnlp.optional

    monkeypatch.setattr(zhnlp.optional, "available", lambda package: package not in ("dask", "distributed"))
    with pytest.raises(MissingDependencyError, match="needs Dask") as caught:
        discover_words(corpus_files, scheduler="local:2")
    assert 'pip install "zhnlp[dask]"' in caught.value.hint


def test_cli_scheduler_writes_the_same_file(corpus_files, tmp_path):
    pytest.importorskip("distributed", reason="needs the dask extra: pip install 'zhnlp[dask]'")
    from typer.testing import CliRunner

    from zhnlp.cli.main import app

    runner = CliRunner()
    one = runner.invoke(app, ["discover-words", *map(str, corpus_files), "--min-count", "5", "-q",
                              "-o", str(tmp_path / "one.tsv")])
    many = runner.invoke(app, ["discover-words", *map(str, corpus_files), "--min-count", "5", "-q",
                               "--scheduler", "local:2", "-o", str(tmp_path / "many.tsv")])
    assert one.exit_code == many.exit_code == 0, many.output
    assert (tmp_path / "many.tsv").read_bytes() == (tmp_path / "one.tsv").read_bytes()
    bad = runner.invoke(app, ["discover-words", str(corpus_files[0]), "--scheduler", "local:0"])
    assert bad.exit_code == 2 and "whole number of workers" in bad.output
