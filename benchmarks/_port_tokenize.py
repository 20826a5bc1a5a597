"""The reference path as a whole process, for bench_wobert.py: the PyTorch port's tokenization
(jieba + transformers' Python BertTokenizer, zhnlp.wobert.reference.PortWoBertTokenizer) over a
file, one JSON line of tokens and ids per line, as `zhnlp tokenize FILE --json` writes them (without
the offsets, which the port cannot give: less work for the reference).

    python benchmarks/_port_tokenize.py VOCAB INPUT OUTPUT
"""
from __future__ import annotations

import json
import sys

from zhnlp.wobert.reference import PortWoBertTokenizer


def main(vocab: str, source: str, target: str) -> None:
    tokenizer = PortWoBertTokenizer(vocab)
    with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
        for line in lines:
            tokens = ["[CLS]", *tokenizer.tokenize(line.rstrip("\n")), "[SEP]"]
            ids = tokenizer.bert.convert_tokens_to_ids(tokens)
            out.write(json.dumps({"tokens": tokens, "input_ids": ids}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
