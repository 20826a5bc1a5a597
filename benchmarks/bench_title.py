"""Benchmark of title generation: dev quality against Lead-k, decoding speed, the KV cache, a cold
`zhnlp title` call, and training examples/s.

    python benchmarks/bench_title.py                # the shipped model (data/models/title), about 5 min
    python benchmarks/bench_title.py --model DIR    # another light or UniLM model folder
    python benchmarks/bench_title.py --quick        # no UniLM training row, fewer repeats

Quality, on the dev split every zhnlp title model is chosen on: 200 of the 1,000 pairs of
../shared/data/title/csl_train.tsv, drawn with seed 0 (zhnlp.title.dev_split), scored as the published
CSL figures are (rouge F on space-joined characters, nltk sentence BLEU with method1, percent):
- Lead-k: the abstract's first k characters, k chosen on the 800 training pairs;
- the light model, greedy and beam 4 (the default);
- UniLM on a tiny random BERT (2 layers, hidden 64, the char-BERT vocabulary cut to the data's
  characters), fine-tuned here for a few minutes on the 800 training pairs: a sanity row, not a
  competitor (no pre-trained weights exist here).
A shipped model retrained on all 1,000 pairs has seen the dev pairs: its dev row is then not a dev
score, and the table says so (training.json's dev_fraction).
Speed (best of 3; the machine is shared and noisy):
- light model titles/s over the 200 dev abstracts at beam 1 and 4 (numpy on the CPU), through
  ``TitleGenerator.generate``, and the whole command ``zhnlp title dev.txt --lines`` as a user runs it;
- UniLM tokens/s with and without the KV cache, beam 1 and 4, on a BERT of WoBERT's "small" size
  (4 layers, hidden 256, 21,128 tokens; random weights: the speed does not depend on them), 16
  abstracts of 256 tokens, 32 new tokens each (min_length 32 so that both decode the same count);
- cold CLI: a fresh `zhnlp title article.txt` process (start, model load, title), best of 3, beside
  a bare `zhnlp --version`.
Training: examples/s of `train_title` (light model, its default recipe) over 60 steps.
Targets (issue 16): Lead-k + 8 Rouge-L; >= 50 titles/s at beam 4; KV cache >= 3x at beam 4; 0 decodes
past max length unflagged, 0 empty titles; cold call < 2 s.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA, ROOT, best_time, print_table, tiny_bert

TITLE = DATA / "title"


def dev_pairs():
    from zhnlp.title import dev_split, read_title_pairs

    return dev_split(read_title_pairs(TITLE / "csl_train.tsv"), 0.2, seed=0)


def quality(model, train, dev, quick: bool) -> list[list[str]]:
    from zhnlp.title import TitleGenerator, best_lead_k, lead_k, title_scores

    references = [p.title for p in dev]
    k = best_lead_k([p.abstract for p in train], [p.title for p in train])
    rows = []

    def row(name, predictions, extra=""):
        s = title_scores(predictions, references)
        rows.append([name, f"{s['rouge-1']:.2f}", f"{s['rouge-2']:.2f}", f"{s['rouge-l']:.2f}", f"{s['bleu']:.2f}",
                     str(s["empty"]), extra])
        return s

    lead = row(f"Lead-{k} (k chosen on train)", [lead_k(p.abstract, k) for p in dev])
    generator = TitleGenerator.from_pretrained(model, device="cpu")
    record = _training_record(generator, model)
    seen = " (trained on dev too)" if record.get("dev_fraction") == 0 else ""
    for beams in (1, 4):
        results = generator.generate([p.abstract for p in dev], num_beams=beams)
        cut = sum(r.truncated for r in results)
        overrun = sum(len(r.title) > generator.max_target_length for r in results)
        s = row(f"{generator.kind} model, {'greedy' if beams == 1 else f'beam {beams}'}{seen}",
                [r.title for r in results], f"{cut} cut at max length (flagged), {overrun} unflagged overruns")
    rows.append(["beam 4 minus Lead", "", "", f"{s['rouge-l'] - lead['rouge-l']:+.2f}", "", "", "target: +8"])
    if not quick:
        rows.append(_unilm_row(train, dev, references))
    return rows


def _training_record(generator, model) -> dict:
    from zhnlp.title.folder import resolve_folder

    path = resolve_folder(model) / "training.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _unilm_row(train, dev, references) -> list[str]:
    from zhnlp.title import TitleGenerator, title_scores
    from zhnlp.title.train import train_title
    from zhnlp.training import TrainerConfig

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bert = tiny_bert(tmp / "bert", [p.abstract + p.title for p in train + dev])
        pairs = tmp / "train.tsv"
        pairs.write_text("".join(f"{p.abstract}\t{p.title}\n" for p in train), encoding="utf-8")
        steps = 600
        summary = train_title(pairs, tmp / "unilm", model=str(bert), dev_fraction=0, batch_size=16,
                              trainer_config=TrainerConfig(max_steps=steps, lr=1e-3, warmup_steps=50, device="cpu",
                                                           save_every=10**9), show_progress=False)
        generator = TitleGenerator.from_pretrained(tmp / "unilm", device="cpu")
        s = title_scores(generator([p.abstract for p in dev], num_beams=1), references)
    return [f"UniLM, tiny random BERT, {steps} steps, greedy", f"{s['rouge-1']:.2f}", f"{s['rouge-2']:.2f}",
            f"{s['rouge-l']:.2f}", f"{s['bleu']:.2f}", str(s["empty"]),
            f"sanity row; {summary['examples_per_second']} examples/s training"]


def light_speed(model, dev, repeats: int) -> list[list[str]]:
    from zhnlp.title import TitleGenerator

    generator = TitleGenerator.from_pretrained(model, device="cpu")
    abstracts = [p.abstract for p in dev]
    rows = []
    for beams in (1, 4):
        seconds, _ = best_time(lambda: generator.generate(abstracts, num_beams=beams), repeats)
        rows.append([f"TitleGenerator.generate, beam {beams}", f"{len(abstracts) / seconds:.1f} titles/s",
                     f"{seconds:.2f} s for {len(abstracts)}", "target >= 50 at beam 4" if beams == 4 else ""])
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "dev.txt"
        lines.write_text("\n".join(abstracts) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "zhnlp.cli.main", "title", str(lines), "--lines", "-q", "--device", "cpu"]
        if model:
            command += ["--model", str(model)]
        seconds, _ = best_time(lambda: subprocess.run(command, check=True, capture_output=True), repeats)
        rows.append(["zhnlp title dev.txt --lines (whole command, beam 4)", f"{len(abstracts) / seconds:.1f} titles/s",
                     f"{seconds:.2f} s", "start and model load included"])
        article = Path(tmp) / "article.txt"
        article.write_text(abstracts[0] + "\n", encoding="utf-8")
        cold = [sys.executable, "-m", "zhnlp.cli.main", "title", str(article), "--device", "cpu"]
        if model:
            cold += ["--model", str(model)]
        cold_seconds, _ = best_time(lambda: subprocess.run(cold, check=True, capture_output=True), 3)
        bare, _ = best_time(lambda: subprocess.run([sys.executable, "-m", "zhnlp.cli.main", "--version"], check=True,
                                                   capture_output=True), 3)
    rows.append(["cold zhnlp title article.txt", f"{cold_seconds:.2f} s", f"zhnlp --version: {bare:.2f} s",
                 f"{cold_seconds / bare:.1f}x a bare start; target < 2 s"])
    return rows


def unilm_speed(repeats: int) -> list[list[str]]:
    import torch

    from zhnlp.generation import GenerationConfig, generate
    from zhnlp.title.unilm import UniLM

    torch.set_num_threads(2)
    _, dev = dev_pairs()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

        folder = Path(tmp) / "bert"
        folder.mkdir()
        (folder / "vocab.txt").write_text((DATA / "wobert" / "bert_chinese_char" / "vocab.txt").read_text(
            encoding="utf-8"), encoding="utf-8")
        tokenizer = BertTokenizerFast(str(folder / "vocab.txt"))
        torch.manual_seed(0)
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                            intermediate_size=1024, max_position_embeddings=512)
        BertForMaskedLM(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        unilm = UniLM.from_bert(folder).eval()
        sources = [p.abstract for p in dev[:16]]
        for beams in (1, 4):
            config = GenerationConfig(max_length=32, min_length=32, num_beams=beams)
            speeds = {}
            for name, step in (("cached", unilm.step), ("uncached", unilm.step_uncached)):
                def run():
                    prefix, state = unilm.start(sources)
                    return generate(step, prefix, unilm.sep_id, config, state)

                seconds, _ = best_time(run, repeats)
                speeds[name] = 16 * 32 / seconds
            rows.append([f"UniLM (small BERT), beam {beams}", f"{speeds['cached']:.0f} tokens/s",
                         f"{speeds['uncached']:.0f} tokens/s", f"{speeds['cached'] / speeds['uncached']:.1f}x",
                         "target >= 3x" if beams == 4 else ""])
    return rows


def training_speed() -> list[str]:
    from zhnlp.title.train import light_trainer_config, train_title

    with tempfile.TemporaryDirectory() as tmp:
        summary = train_title(TITLE / "csl_train.tsv", Path(tmp) / "m", titles=TITLE / "csl_titles_8k.tsv",
                              keywords=TITLE / "csl_train_keywords.txt", show_progress=False,
                              trainer_config=light_trainer_config(max_steps=60, save_every=10**9, eval_every=10**9,
                                                                  device="cpu"))
    return ["train_title (light model, batch 32)", f"{summary['examples_per_second']} examples/s", summary["device"], ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="title model folder (default: the shipped one)")
    parser.add_argument("--quick", action="store_true", help="no UniLM training row, fewer repeats")
    args = parser.parse_args()
    if not TITLE.is_dir():
        raise SystemExit(f"no title data in {TITLE}: see ../shared/data/README.md")
    sys.path.insert(0, str(ROOT))
    train, dev = dev_pairs()
    repeats = 1 if args.quick else 3
    started = time.time()
    print_table("Titles on the dev split (200 pairs of csl_train.tsv, seed 0)",
                ["system", "Rouge-1", "Rouge-2", "Rouge-L", "BLEU", "empty", "notes"],
                quality(args.model, train, dev, args.quick))
    print_table("Light model speed on this CPU", ["what", "speed", "time", "notes"],
                light_speed(args.model, dev, repeats))
    print_table("UniLM decoding with and without the KV cache (CPU)", ["what", "cached", "uncached", "ratio", "notes"],
                unilm_speed(repeats))
    print_table("Training", ["what", "speed", "device", ""], [training_speed()])
    print(f"done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
