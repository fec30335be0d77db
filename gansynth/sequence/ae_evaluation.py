"""What the sequence auto-encoder does, measured on held-out segments (`gansynth
evaluate-sequence --autoencoder`).

- **Reconstruction:** each held-out segment is encoded (posterior mean) and decoded at
  temperature 0; note F1 against the original, a note matching when its pitch is the same and
  its onset within one grid step (`roll.onset_f1`). Reported as the mean over segments and
  pooled over all notes; by group of pieces (e.g. the corpus's top folders) when groups are
  given; and by bar of 4 beats (each bar scored on its own, the mean over the segments where the
  bar has a note in the original or the decoding).
- **Blend:** for random pairs (A, B) of held-out segments from different pieces, the decoded
  mean embedding. Per feature (pitch-class histogram; rhythm histogram, `roll`), with d the
  total-variation distance: the share of pairs whose blend is closer to A and to B than A and B
  are to each other (d(blend, A) < d(A, B) and d(blend, B) < d(A, B)), and the share whose blend
  is closer to the pair, (d(blend, A) + d(blend, B)) / 2, than an unconditional piece (decoded
  from a random embedding, one per pair) is.
- **Interpolation:** for random pairs, `steps` pieces decoded from (1 - t) z_A + t z_B, t from 0
  to 1. Per feature, r(t) = d(x_t, A) - d(x_t, B) should rise from A to B: the mean Spearman
  correlation of r with t, and the share of pairs where r never falls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gansynth.sequence.ae_export import AutoencoderModel
from gansynth.sequence.autoencoder import decode_rolls, encode_rolls, f1_summary, reconstruct_rolls
from gansynth.sequence.roll import ONSET, pitch_class_histogram, rhythm_histogram, tv_distance

FEATURES = ("pitch classes", "rhythm")
MIN_NOTES = 4  # segments with fewer onsets are not used as blend / interpolation ends
BAR_BEATS = 4  # beats per bar for the F1 by bar


@dataclass(frozen=True)
class FeatureFigures:
    """Per-feature blend and interpolation figures (see the module doc)."""

    blend_between: float
    blend_closer_than_random: float
    distance_pair: float
    distance_blend: float
    distance_random: float
    interpolation_spearman: float
    interpolation_monotone: float


@dataclass(frozen=True)
class AutoencoderReport:
    segments: int
    f1_mean: float
    f1_pooled: float
    pairs: int
    steps: int
    features: dict[str, FeatureFigures]
    f1_by_bar: list[float]
    f1_by_group: dict[str, tuple[int, float, float]]  # group -> (segments, mean F1, pooled F1)

    def format(self) -> str:
        lines = [f"{'held-out segments':<46} {self.segments}",
                 f"{'reconstruction note F1 (mean over segments)':<46} {self.f1_mean:.3f}",
                 f"{'reconstruction note F1 (pooled over notes)':<46} {self.f1_pooled:.3f}",
                 f"{'  by bar of ' + str(BAR_BEATS) + ' beats (mean)':<46} "
                 + " / ".join(f"{f:.3f}" for f in self.f1_by_bar)]
        for group, (count, mean, pooled) in (self.f1_by_group.items() if len(self.f1_by_group) > 1 else ()):
            lines.append(f"{'  ' + group + f' ({count} segments), mean / pooled':<46} {mean:.3f} / {pooled:.3f}")
        lines += ["",
                 f"{self.pairs} pairs of held-out segments; interpolation in {self.steps} steps",
                 f"{'':<46} " + " ".join(f"{name:>13}" for name in FEATURES)]
        rows = (("blend between A and B (share of pairs)", "blend_between"),
                ("blend closer to the pair than random", "blend_closer_than_random"),
                ("mean distance A to B", "distance_pair"),
                ("mean distance blend to A, B", "distance_blend"),
                ("mean distance random piece to A, B", "distance_random"),
                ("interpolation: Spearman of r(t) with t", "interpolation_spearman"),
                ("interpolation: share with r(t) monotone", "interpolation_monotone"))
        for label, key in rows:
            lines.append(f"{label:<46} " + " ".join(f"{getattr(self.features[n], key):>13.3f}"
                                                    for n in FEATURES))
        return "\n".join(lines)


def _features(segment: np.ndarray, pitch_low: int, steps_per_beat: int) -> dict[str, np.ndarray]:
    return {"pitch classes": pitch_class_histogram(segment, pitch_low),
            "rhythm": rhythm_histogram(segment, steps_per_beat)}


def _spearman(values: np.ndarray) -> float:
    """Spearman correlation of `values` with their position (0 when they are all equal)."""
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable").astype(np.float64)
    if np.all(values == values[0]):
        return 0.0
    positions = np.arange(len(values), dtype=np.float64)
    return float(np.corrcoef(ranks, positions)[0, 1])


def f1_by_bar(references: np.ndarray, estimates: np.ndarray, bar_steps: int) -> list[float]:
    """Mean F1 per bar of `bar_steps` steps of segments (N, T, 2, P), over the segments where the
    bar has a note in the reference or the estimate (NaN where none has)."""
    figures = []
    for start in range(0, references.shape[1], bar_steps):
        ref, est = references[:, start: start + bar_steps], estimates[:, start: start + bar_steps]
        sounding = ref[:, :, ONSET].any(axis=(1, 2)) | est[:, :, ONSET].any(axis=(1, 2))
        figures.append(f1_summary(ref[sounding], est[sounding])[0])
    return figures


@torch.no_grad()
def evaluate_autoencoder(loaded: AutoencoderModel, valid: np.ndarray, piece_of: np.ndarray,
                         pairs: int = 64, steps: int = 5, seed: int = 0,
                         group_of: np.ndarray | None = None) -> AutoencoderReport:
    """The figures of the module doc on held-out segments `valid` (N, T, 2, P); piece_of (N,)
    names the piece of each segment (pairs never join two segments of one piece); group_of (N,)
    str, optional, the group of each segment for the F1 by group."""
    model, roll = loaded.model, loaded.config.roll
    model.eval()
    reconstructed = reconstruct_rolls(model, valid)
    f1_mean, f1_pooled = f1_summary(valid, reconstructed)
    by_bar = f1_by_bar(valid, reconstructed, BAR_BEATS * roll.steps_per_beat)
    by_group: dict[str, tuple[int, float, float]] = {}
    if group_of is not None:
        for group in sorted(set(group_of.tolist())):
            chosen_rows = group_of == group
            by_group[group] = (int(chosen_rows.sum()), *f1_summary(valid[chosen_rows], reconstructed[chosen_rows]))
    rng = np.random.default_rng(seed)
    usable = np.nonzero(valid[:, :, ONSET].sum(axis=(1, 2)) >= MIN_NOTES)[0]
    chosen: list[tuple[int, int]] = []
    for _ in range(pairs * 20):
        if len(chosen) == pairs or len(usable) < 2:
            break
        a, b = rng.choice(usable, 2, replace=False)
        if piece_of[a] != piece_of[b]:
            chosen.append((int(a), int(b)))
    z = encode_rolls(model, valid).cpu()  # (N, latent)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(chosen), z.shape[1], generator=generator)
    random_z = loaded.latent_mean + loaded.latent_std * noise
    t = torch.linspace(0.0, 1.0, steps)
    feats = lambda seg: _features(seg, roll.pitch_low, roll.steps_per_beat)  # noqa: E731
    collected: dict[str, dict[str, list[float]]] = {n: {} for n in FEATURES}

    def add(name: str, key: str, value: float) -> None:
        collected[name].setdefault(key, []).append(value)

    for k, (a, b) in enumerate(chosen):
        ends = torch.stack([z[a], z[b]])
        path = torch.lerp(ends[0][None], ends[1][None], t[:, None])  # (steps, latent)
        middle = torch.lerp(ends[0], ends[1], 0.5)[None]
        decoded = decode_rolls(model, torch.cat([middle, random_z[k: k + 1], path]))
        fa, fb = feats(valid[a]), feats(valid[b])
        fblend, frandom = feats(decoded[0]), feats(decoded[1])
        fpath = [feats(x) for x in decoded[2:]]
        for name in FEATURES:
            d_ab = tv_distance(fa[name], fb[name])
            d_ba, d_bb = tv_distance(fblend[name], fa[name]), tv_distance(fblend[name], fb[name])
            d_ra, d_rb = tv_distance(frandom[name], fa[name]), tv_distance(frandom[name], fb[name])
            add(name, "between", float(d_ba < d_ab and d_bb < d_ab))
            add(name, "closer", float((d_ba + d_bb) < (d_ra + d_rb)))
            add(name, "pair", d_ab)
            add(name, "blend", (d_ba + d_bb) / 2.0)
            add(name, "random", (d_ra + d_rb) / 2.0)
            r = np.array([tv_distance(f[name], fa[name]) - tv_distance(f[name], fb[name]) for f in fpath])
            add(name, "spearman", _spearman(r))
            add(name, "monotone", float(np.all(np.diff(r) >= -1e-9)))
    mean = lambda name, key: float(np.mean(collected[name].get(key, [np.nan])))  # noqa: E731
    figures = {name: FeatureFigures(mean(name, "between"), mean(name, "closer"), mean(name, "pair"),
                                    mean(name, "blend"), mean(name, "random"), mean(name, "spearman"),
                                    mean(name, "monotone")) for name in FEATURES}
    return AutoencoderReport(len(valid), f1_mean, f1_pooled, len(chosen), steps, figures, by_bar, by_group)
