"""The couplet recipe's defaults, in one place: the library and the CLI's options read them here.
This module imports nothing, so that `zhnlp --help` stays fast."""

# the trainer settings of `zhnlp train couplet`; max_steps 0: as many steps as --epochs take
# metric: the constrained decoder's dev BLEU (the post's CNN was chosen by plain argmax char accuracy, which
# peaks epochs before BLEU does once the model has a context table)
COUPLET_TRAINING = {"lr": 2e-3, "warmup_steps": 200, "metric": "bleu", "patience": 3, "save_every": 500,
                    "max_steps": 0}
EPOCHS = 20  # most epochs; early stopping usually ends sooner
BATCH_SIZE = 64  # training pairs per step
# the hashed context table's learning rate over the rest's: each row is trained only on the few steps
# an epoch that see its context (benchmarks/bench_couplet.py --variants compares)
CONTEXT_LR_SCALE = 10.0
DECODE_BATCH_SIZE = 512  # lines of one length decoded together
# 128: on the shipped model it keeps 88% of the characters the whole-vocabulary decoder picks on train
# upper lines (64: 83%, 256: 93%) at 2% of the output layer's cost, and 1.7 MB on disk; dev quality is
# the same or better (benchmarks/bench_couplet.py prints the sweep)
DEFAULT_SHORTLIST_SIZE = 128
# the options of `zhnlp train couplet` that set the model's shape: a resumed run must not change them
MODEL_FLAGS = {"embedding_dim": "--width", "dilations": "--dilations", "dropout": "--dropout",
               "kernel_size": "--kernel-size", "max_length": "--max-length",
               "context_buckets": "--context-buckets", "context_dim": "--context-dim",
               "context_input": "--context-input", "context_dropout": "--context-dropout"}
