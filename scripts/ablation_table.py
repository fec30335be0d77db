"""Print the ablation table (markdown) from the figures `scripts/ablation.sh` wrote.

    .venv/bin/python scripts/ablation_table.py OUT

One row per arm that has finished (OUT/<arm>.json; the script's arms in its order, then
repeats such as none_seed1), one column per figure, and a last row for the real notes. The
training time of each arm comes from OUT/<arm>.settings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ARMS = ["none", "all", "all_seed1", "no_augment", "no_freq_cutout", "spectrum", "no_ema", "no_oversample",
        "no_schedule", "ns_r1", "projection", "balance"]

ROWS = [
    ("classifier pitch accuracy", lambda f: f"{f['pitch_accuracy']:.3f}"),
    ("FID", lambda f: f"{f['fid']:.0f}"),
    ("NDB of 50", lambda f: f"{f['ndb']}"),
    ("pyin pitch accuracy", lambda f: f"{f['pyin_accuracy']:.3f}"),
    ("pyin MIDI 24-35 / 36-47 / 48-59", lambda f: " / ".join(
        f"{f['pyin_by_octave'].get(band, float('nan')):.2f}" for band in ("24-35", "36-47", "48-59"))),
    ("energy above 7 kHz", lambda f: f"{f['hiband_energy']:.4f}"),
    ("level after the release (dB)", lambda f: f"{f['release_level']:.1f}"),
    ("spectral flatness (dB)", lambda f: f"{f['spectral_flatness']:.1f}"),
]


def main(out: Path) -> int:
    found = {p.stem for p in out.glob("*.json")}
    arms = [a for a in ARMS if a in found] + sorted(found - set(ARMS))
    if not arms:
        print(f"{out}: no finished arms (no <arm>.json)", file=sys.stderr)
        return 2
    figures = {a: json.loads((out / f"{a}.json").read_text()) for a in arms}
    print("| arm | " + " | ".join(name for name, _ in ROWS) + " | training (min) |")
    print("|---|" + "---|" * (len(ROWS) + 1))
    for a in arms:
        lines = (out / f"{a}.settings").read_text().splitlines()
        seconds = [int(x.split()[1]) for x in lines if x.startswith("train_seconds")]
        minutes = f"{seconds[0] / 60:.1f}" if seconds else "?"
        print(f"| `{a}` | " + " | ".join(cell(figures[a]["generated"]) for _, cell in ROWS) + f" | {minutes} |")
    real = figures[arms[0]]["real"]
    print("| real notes | " + " | ".join(cell(real) for _, cell in ROWS) + " | |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: ablation_table.py OUT", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
