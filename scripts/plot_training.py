"""Plot the training curves of a GAN run from its CSV logs (all versions, i.e. across resumes).

    python scripts/plot_training.py runs/gm_small -o docs/img/training_curve.png

Panels: critic and generator losses, gradient penalty, the critic's pitch accuracy on real notes,
and throughput, against images seen, with the schedule's stages marked (dashed: a transition
starts, solid: a stable stage starts).
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gansynth.io import atomic_path  # noqa: E402

SYMLOG_PANELS = ("loss", "Wasserstein terms", "gradient penalty", "pitch cross-entropy")


def read_rows(run: Path) -> list[dict[str, float]]:
    """Every logged step of every version under run/logs/csv, sorted by images seen."""
    rows: list[dict[str, float]] = []
    for path in sorted((run / "logs" / "csv").glob("version_*/metrics.csv")):
        with open(path) as f:
            for raw in csv.DictReader(f):
                row = {k: float(v) for k, v in raw.items() if v not in ("", None)}
                if "images_seen" in row:
                    rows.append(row)
    if not rows:
        raise SystemExit(f"{run}: no metrics.csv with images_seen under logs/csv/")
    rows.sort(key=lambda r: r["images_seen"])
    return rows


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average over `window` points (NaN-free input)."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder (config.output)")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/img/training_curve.png"))
    parser.add_argument("--smooth", type=int, default=20, help="moving-average window in logged steps")
    parser.add_argument("--title", default=None)
    args = parser.parse_args()
    rows = read_rows(args.run)
    x = [r["images_seen"] for r in rows]
    panels = [
        ("loss", [("d_loss", "critic total"), ("g_loss", "generator total")]),
        ("Wasserstein terms", [("d_wgan", "D: mean D(fake) - mean D(real)"), ("g_wgan", "G: -mean D(fake)")]),
        ("gradient penalty", [("gradient_penalty", "(|grad D| - 1)^2")]),
        ("pitch cross-entropy", [("d_pitch", "D on real notes"), ("g_pitch", "G's fakes (via D)")]),
        ("pitch accuracy", [("real_pitch_acc", "D on real notes")]),
        ("images/s", [("images_per_s", "throughput")]),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.1 * len(panels)), sharex=True)
    stages = sorted({(int(r.get("stage", 0)), r["images_seen"]) for r in rows}, key=lambda t: t[1])
    starts: dict[int, float] = {}
    for stage, seen in stages:
        starts.setdefault(stage, seen)
    for ax, (ylabel, series) in zip(axes, panels):
        for key, label in series:
            pts = [(xi, r[key]) for xi, r in zip(x, rows) if key in r and math.isfinite(r[key])]
            if not pts:
                continue
            xs, ys = zip(*pts)
            ax.plot(xs, ys, alpha=0.25, linewidth=0.8)
            ax.plot(xs, smooth(list(ys), args.smooth), label=label, color=ax.lines[-1].get_color())
        for stage, seen in starts.items():
            if stage > 0:
                ax.axvline(seen, color="grey", linewidth=0.6, linestyle="--" if stage % 2 else "-")
        if ylabel in SYMLOG_PANELS:  # spikes of hundreds next to values near 1
            ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper right", fontsize=7)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("images seen")
    config = args.run / "config.yaml"
    fig.suptitle(args.title or f"GAN training: {args.run} ({len(rows)} logged steps; "
                 f"{'config.yaml' if config.exists() else 'no config'})", fontsize=10)
    fig.tight_layout()
    with atomic_path(args.output) as tmp:
        fig.savefig(tmp, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
