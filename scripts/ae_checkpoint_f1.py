"""Held-out reconstruction note F1 of auto-encoder training checkpoints, over every held-out
segment (not only the 128 that `val_f1` decodes after each epoch).

    .venv/bin/python scripts/ae_checkpoint_f1.py --corpus DIR [--csv OUT.csv] CKPT [CKPT ...]

Prints, per checkpoint, its training step, the F1 averaged over segments and pooled over notes
(`gansynth.sequence.autoencoder.segment_f1`), and appends them to --csv (columns step, f1_mean,
f1_pooled), which `scripts/plot_sequence.py --ae-f1` draws beside the training curve.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from gansynth.model_file import load_plain
from gansynth.sequence.ae_train import AutoencoderLightningModule, build_segment_corpus
from gansynth.sequence.autoencoder import segment_f1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--corpus", required=True, help="the MIDI folder the run was trained on")
    parser.add_argument("--csv", default=None)
    args = parser.parse_args(argv)
    corpus = None
    rows = []
    for path in args.checkpoints:
        payload = load_plain(path, "Lightning checkpoint")  # read once: weights, config and step
        module = AutoencoderLightningModule(payload["hyper_parameters"]["config"])
        module.load_state_dict(payload["state_dict"])
        if corpus is None:  # the split depends only on the corpus and data settings
            corpus = build_segment_corpus(module.config, args.corpus)
        step = int(payload["global_step"])
        mean, pooled = segment_f1(module.model.eval(), corpus.valid)
        rows.append((step, mean, pooled))
        print(f"{path}: step {step}, F1 {mean:.3f} averaged over {len(corpus.valid)} segments, "
              f"{pooled:.3f} pooled over notes", flush=True)
    if args.csv:
        out = Path(args.csv)
        new = not out.is_file()
        with out.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["step", "f1_mean", "f1_pooled"])
            writer.writerows(sorted(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
