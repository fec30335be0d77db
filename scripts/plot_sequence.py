"""Figures for docs/sequence.md: piano rolls of LSTM-generated pieces and the training curve,
and piano rolls of the auto-encoder's reconstructions, blends and interpolations.

    .venv/bin/python scripts/plot_sequence.py [--model data/models/lstm_default.pt]
        [--primer data/midi/chorale_bwv10_7.mid] [--run runs/lstm_default] [--out-dir docs/img]
        [--autoencoder data/models/autoencoder_default.pt] [--ae-run runs/autoencoder] [--ae-f1 F1.csv]

Writes sequence_pianoroll.png (an unconditional piece, a continuation of the primer and a blend
of the two example chorales, 20 s each, seed 0) and, with --run, sequence_training.png
(validation perplexity per epoch from the run's CSV log). With --autoencoder:
autoencoder_pianoroll.png (the first 16 beats of the two --blend pieces, their reconstructions,
and the 5-step interpolation from one to the other), and with --ae-run,
autoencoder_training.png (held-out reconstruction F1 per training step; --ae-f1 CSV adds the F1
over all held-out segments of checkpoints, from scripts/ae_checkpoint_f1.py). With --accompaniment:
accompaniment_pianoroll.png (data/midi/ode_to_joy.mid accompanied in each of the model's
styles, seed 0, one color per track).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from gansynth.io import atomic_path  # noqa: E402
from gansynth.score import Score, score_from_midi, score_from_notes  # noqa: E402
from gansynth.sequence import DEFAULT_MODEL  # noqa: E402
from gansynth.sequence.export import load_sequence_model  # noqa: E402
from gansynth.sequence.sampling import SamplingOptions, blend_tokens, continue_tokens  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MIDI = REPO / "data" / "midi"


def piano_roll(ax: Axes, score: Score, title: str, split: float | None = None) -> None:
    """The pitched notes as horizontal bars (time in s, MIDI pitch), shaded by velocity."""
    notes = score.pitched_notes()
    for n in notes:
        ax.broken_barh([(n.start_s, n.duration_s)], (n.pitch - 0.4, 0.8),
                       facecolors=plt.cm.viridis(0.25 + 0.6 * n.velocity / 127))
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    if split is not None:
        ax.axvline(split, color="crimson", lw=1.2, ls="--")
        ax.text(split, high + 1.5, " generated ->", color="crimson", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("MIDI pitch")
    ax.set_ylim(low - 2, high + 4)
    ax.grid(alpha=0.3)


def logged_series(run: str, key: str, x: str = "epoch") -> tuple[list[int], list[float]]:
    """(x, value) of every logged `key` in a run's CSV logs (all versions, in order); x: "epoch"
    (counted from 1) or "step"."""
    xs, values = [], []
    for log in sorted(Path(run).glob("logs/version_*/metrics.csv")):
        with log.open() as f:
            for row in csv.DictReader(f):
                if row.get(key):
                    xs.append(int(row["epoch"]) + 1 if x == "epoch" else int(row["step"]))
                    values.append(float(row[key]))
    return xs, values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--primer", default=str(MIDI / "chorale_bwv10_7.mid"))
    parser.add_argument("--blend", nargs=2, default=[str(MIDI / "chorale_bwv10_7.mid"),
                                                     str(MIDI / "folk_altdeu10_0005.mid")])
    parser.add_argument("--run", default=None, help="training run folder with logs/ (optional)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out-dir", default=str(REPO / "docs" / "img"))
    parser.add_argument("--autoencoder", default=None, help="also draw the auto-encoder's figures")
    parser.add_argument("--ae-run", default=None, help="auto-encoder run folder with logs/ (optional)")
    parser.add_argument("--ae-f1", default=None,
                        help="CSV of scripts/ae_checkpoint_f1.py to draw beside the --ae-run curve")
    parser.add_argument("--skip-lstm", action="store_true",
                        help="only the auto-encoder's and accompaniment's figures")
    parser.add_argument("--accompaniment", default=None, help="also draw the accompaniment figure")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir)
    if args.autoencoder:
        autoencoder_figures(args.autoencoder, args.blend, args.ae_run, out_dir, args.ae_f1)
    if args.accompaniment:
        accompaniment_figure(args.accompaniment, out_dir)
    if args.skip_lstm:
        return 0

    loaded = load_sequence_model(args.model)
    model, tok = loaded.model, loaded.tokenizer
    options = SamplingOptions(seconds=args.seconds, temperature=1.0, polyphony=6)
    pitched = score_from_midi(args.primer).pitched_notes()
    end = max(n.end_s for n in pitched)
    tail = [n for n in pitched if n.start_s >= end - 12.0]
    t0 = min(n.start_s for n in tail)
    primer = tok.encode(score_from_notes(
        [replace(n, start_s=n.start_s - t0, end_s=n.end_s - t0) for n in tail]))
    free = tok.decode(continue_tokens(model, tok, [], options, seed=0)[0])
    cont = tok.decode(primer + continue_tokens(model, tok, primer, options, seed=0)[0])
    a, b = (tok.encode(score_from_midi(p)) for p in args.blend)
    blend = tok.decode(blend_tokens(model, tok, a, b, options, seed=0)[0])

    fig, axes = plt.subplots(3, 1, figsize=(11, 9))
    piano_roll(axes[0], free, f"unconditional sample ({args.seconds:.0f} s, seed 0)")
    piano_roll(axes[1], cont, f"continuation of the last 12 s of {Path(args.primer).name}",
               split=tok.decode(primer).end_s)
    piano_roll(axes[2], blend, "blend: generated from the mean LSTM state of "
               f"{Path(args.blend[0]).name} and {Path(args.blend[1]).name}")
    axes[2].set_xlabel("time (s)")
    fig.tight_layout()
    with atomic_path(out_dir / "sequence_pianoroll.png") as tmp:
        fig.savefig(tmp, dpi=110)
    print(f"wrote {out_dir / 'sequence_pianoroll.png'}")

    if args.run:
        epochs, ppl = logged_series(args.run, "val_ppl")
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(epochs, ppl, "o-", label="LSTM (validation windows)")
        for key, style in (("unigram_perplexity", ":"), ("bigram_perplexity", "--")):
            ax.axhline(loaded.metrics[key], ls=style, color="gray",
                       label=f"{key.split('_')[0]} baseline ({loaded.metrics[key]:.2f})")
        ax.set_xlabel(f"epoch ({loaded.config.train.windows_per_epoch} windows of "
                      f"{loaded.config.data.window} tokens)")
        ax.set_ylabel("perplexity")
        ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(out_dir / "sequence_training.png") as tmp:
            fig.savefig(tmp, dpi=110)
        print(f"wrote {out_dir / 'sequence_training.png'}")
    return 0


def tracks_roll(ax: Axes, score: Score, title: str) -> None:
    """Every track's notes as horizontal bars in its own color (time in s, MIDI pitch), with a
    legend of the track names."""
    colors = plt.cm.tab10.colors
    for track in score.tracks:
        notes = [n for n in score.notes if n.track == track.index]
        ax.broken_barh([(n.start_s, n.duration_s) for n in notes],
                       (0, 0), facecolors=colors[track.index % 10], label=track.name)  # legend entry
        for n in notes:
            ax.broken_barh([(n.start_s, n.duration_s)], (n.pitch - 0.4, 0.8),
                           facecolors=colors[track.index % 10])
    pitches = [n.pitch for n in score.notes]
    ax.set_ylim(min(pitches) - 2, max(pitches) + 3)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("MIDI pitch")
    ax.legend(loc="lower right", fontsize=7, ncol=len(score.tracks))
    ax.grid(alpha=0.3)


def accompaniment_figure(path: str, out_dir: Path) -> None:
    """accompaniment_pianoroll.png: the example melody accompanied in every style of the model."""
    from gansynth.sequence.acc_export import load_accompaniment
    from gansynth.sequence.accompany import accompany

    loaded = load_accompaniment(path)
    melody = MIDI / "ode_to_joy.mid"
    styles = loaded.config.data.styles
    fig, axes = plt.subplots(len(styles), 1, figsize=(11, 2.6 * len(styles)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, style in zip(list(axes), styles, strict=True):
        result = accompany(melody, style=style, seed=0, model=loaded)
        first = min(n.start_s for n in result.score.notes)
        shown = score_from_notes([n for n in result.score.notes if n.start_s < first + 18.0],
                                 track_names={t.index: t.name for t in result.score.tracks})
        tracks_roll(ax, shown, f"{melody.name}: {result.style} accompaniment (seed 0)")
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    with atomic_path(out_dir / "accompaniment_pianoroll.png") as tmp:
        fig.savefig(tmp, dpi=100)
    print(f"wrote {out_dir / 'accompaniment_pianoroll.png'}")


def autoencoder_figures(path: str, pieces: list[str], run: str | None, out_dir: Path,
                        full_f1: str | None = None) -> None:
    """autoencoder_pianoroll.png and, with a run folder, autoencoder_training.png (with
    `full_f1`, also the CSV of scripts/ae_checkpoint_f1.py)."""
    from gansynth.sequence import embed
    from gansynth.sequence.ae_export import load_autoencoder

    loaded = load_autoencoder(path)
    a, b = (score_from_midi(p) for p in pieces)
    za, zb = embed.encode(loaded, a)[:1], embed.encode(loaded, b)[:1]
    beats = loaded.config.roll.segment_beats
    rows = [(embed.decode(loaded, za, qpm=a.qpm), f"reconstruction of {Path(pieces[0]).name}"),
            *[(embed.decode(loaded, embed.blend_latents([za, zb], [1 - t, t]), qpm=a.qpm),
               f"interpolation t = {t:.2f}") for t in (0.25, 0.5, 0.75)],
            (embed.decode(loaded, zb, qpm=a.qpm), f"reconstruction of {Path(pieces[1]).name}")]
    originals = [(score_from_notes([n for n in s.pitched_notes() if s.beats(n.start_s) < beats]),
                  f"original: first {beats} beats of {Path(p).name}") for s, p in zip((a, b), pieces)]
    ordered = [originals[0], *rows, originals[1]]
    fig, axes = plt.subplots(len(ordered), 1, figsize=(11, 2.0 * len(ordered)), sharex=True)
    for ax, (score, title) in zip(axes, ordered):
        if score.pitched_notes():
            piano_roll(ax, score, title)
        else:
            ax.set_title(f"{title} (no notes)", fontsize=10)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    with atomic_path(out_dir / "autoencoder_pianoroll.png") as tmp:
        fig.savefig(tmp, dpi=100)
    print(f"wrote {out_dir / 'autoencoder_pianoroll.png'}")
    if not run:
        return
    steps, f1 = logged_series(run, "val_f1", x="step")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(steps, f1, "o-", ms=2, label="val_f1 after each epoch (128 held-out segments)")
    if full_f1:
        with open(full_f1) as f:
            points = sorted((int(r["step"]), float(r["f1_mean"])) for r in csv.DictReader(f))
        ax.plot([p[0] for p in points], [p[1] for p in points], "s-", ms=5, color="C3",
                label="F1 over all held-out segments (checkpoints)")
    ax.axhline(0.8, ls="--", color="gray", label="target 0.8")
    ax.set_xlabel(f"training step ({loaded.config.train.batch_size} segments each)")
    ax.set_ylabel("note F1")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out_dir / "autoencoder_training.png") as tmp:
        fig.savefig(tmp, dpi=110)
    print(f"wrote {out_dir / 'autoencoder_training.png'}")


if __name__ == "__main__":
    sys.exit(main())
