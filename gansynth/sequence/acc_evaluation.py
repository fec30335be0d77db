"""How well an accompaniment fits its melody (`gansynth evaluate-accompaniment`).

Everything works on voice tokens on the beat grid (`gansynth.sequence.roll`): a melody (T,) and
accompanying voices (T, V), steps_per_beat steps per beat.

- **Harmonic fit:** of the melody's notes that start on a beat, the share that sound with at
  least one accompanying note and are consonant with every accompanying note sounding then
  (interval mod 12 in `CONSONANT`: unison/octave, thirds, fourth, fifth, sixths; the fourth
  counts as consonant, as between upper voices). **Coverage** is the share that sound with any
  accompanying note at all (silence is never a fit).
- **Rhythm:** the share of accompanying onsets on a beat, and on the eighth-note grid (beats
  and half-beats), of the melody's beat.
- **Key:** the key of the melody and of the accompaniment, each estimated with the
  Krumhansl-Kessler profiles from duration-weighted pitch classes; agreement is the share of
  pieces where tonic and mode match. The in-key share is the share of accompanying onsets
  whose pitch class is in the melody key's scale (major, or natural minor with the raised
  seventh).

Baselines (`block_chords`, `random_in_key`) are made from the melody alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gansynth.sequence.evaluation import KEY_NAMES, MAJOR_SCALE, key_from_histogram
from gansynth.sequence.roll import HOLD, ONSET, roll_from_voices

CONSONANT = frozenset({0, 3, 4, 5, 7, 8, 9})
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor with the raised seventh too
# register (MIDI low, high) of accompanying voice v of 3, top to bottom, for the baselines
REGISTERS = ((55, 67), (48, 60), (36, 50))


def pitch_classes(tokens: np.ndarray, pitch_low: int) -> np.ndarray:
    """(12,) duration-weighted pitch classes (grid steps sounding) of voices (T, V)."""
    roll = roll_from_voices(tokens, _pitches(tokens))
    _, p = np.nonzero(roll[:, HOLD])
    return np.bincount((p + pitch_low) % 12, minlength=12).astype(np.float64)


def _pitches(tokens: np.ndarray) -> int:
    return max(1, int(tokens.max()) - 1)


def estimate_key(weights: np.ndarray) -> tuple[int, str]:
    """(tonic pitch class, "major" | "minor") of `weights` (12,) by Krumhansl-Schmuckler
    (`gansynth.sequence.evaluation.key_from_histogram`); C major for silence."""
    key = max(0, key_from_histogram(weights))
    return key % 12, "major" if key < 12 else "minor"


def key_name(key: tuple[int, str]) -> str:
    return KEY_NAMES[key[0] + (0 if key[1] == "major" else 12)]


def scale(key: tuple[int, str]) -> set[int]:
    steps = MAJOR_SCALE if key[1] == "major" else MINOR_SCALE
    return {(key[0] + s) % 12 for s in steps}


@dataclass
class FitFigures:
    """Counts over one or more pieces; the shares are properties."""

    strong_onsets: int = 0
    accompanied: int = 0
    consonant: int = 0
    onsets: int = 0
    on_beat: int = 0
    on_eighth: int = 0
    in_key: int = 0
    pieces: int = 0
    keys_agree: int = 0

    def add(self, other: FitFigures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @staticmethod
    def _share(a: int, b: int) -> float:
        return a / b if b else float("nan")

    @property
    def harmonic_fit(self) -> float:
        return self._share(self.consonant, self.strong_onsets)

    @property
    def coverage(self) -> float:
        return self._share(self.accompanied, self.strong_onsets)

    @property
    def on_beat_share(self) -> float:
        return self._share(self.on_beat, self.onsets)

    @property
    def on_eighth_share(self) -> float:
        return self._share(self.on_eighth, self.onsets)

    @property
    def in_key_share(self) -> float:
        return self._share(self.in_key, self.onsets)

    @property
    def key_agreement(self) -> float:
        return self._share(self.keys_agree, self.pieces)

    def row(self) -> dict[str, float]:
        return {"harmonic_fit": self.harmonic_fit, "coverage": self.coverage,
                "on_beat": self.on_beat_share, "on_eighth": self.on_eighth_share,
                "in_key": self.in_key_share, "key_agreement": self.key_agreement,
                "pieces": float(self.pieces)}


def fit_figures(melody: np.ndarray, accompaniment: np.ndarray, pitch_low: int,
                steps_per_beat: int) -> FitFigures:
    """The figures of one piece: melody (T,) and accompaniment (T, V) voice tokens."""
    pitches = max(_pitches(melody[:, None]), _pitches(accompaniment))
    mel = roll_from_voices(melody[:, None], pitches)
    acc = roll_from_voices(accompaniment, pitches)
    out = FitFigures(pieces=1)
    half = max(1, steps_per_beat // 2)
    for t, p in zip(*np.nonzero(mel[:, ONSET]), strict=True):
        if t % steps_per_beat:
            continue
        out.strong_onsets += 1
        sounding = np.nonzero(acc[t, HOLD])[0]
        if len(sounding):
            out.accompanied += 1
            out.consonant += int(all(abs(int(p) - int(q)) % 12 in CONSONANT for q in sounding))
    melody_key = estimate_key(pitch_classes(melody[:, None], pitch_low))
    in_scale = scale(melody_key)
    for t, q in zip(*np.nonzero(acc[:, ONSET]), strict=True):
        out.onsets += 1
        out.on_beat += int(t % steps_per_beat == 0)
        out.on_eighth += int(t % half == 0)
        out.in_key += int((int(q) + pitch_low) % 12 in in_scale)
    out.keys_agree = int(estimate_key(pitch_classes(accompaniment, pitch_low)) == melody_key)
    return out


def register(v: int, voices: int) -> tuple[int, int]:
    """The baselines' register of voice v of `voices`, top to bottom (`REGISTERS` spread)."""
    return REGISTERS[min(len(REGISTERS) - 1, v * len(REGISTERS) // voices)] if v < voices - 1 else REGISTERS[-1]


def _place(tokens: np.ndarray, v: int, start: int, end: int, pitch_index: int) -> None:
    tokens[start, v] = 2 + pitch_index
    tokens[start + 1: end, v] = 1


def _in_range(pitch_class: int, low: int, high: int) -> int:
    """The lowest MIDI pitch of `pitch_class` in low..high (low's octave wrap if none)."""
    for p in range(low, high + 1):
        if p % 12 == pitch_class:
            return p
    return low + (pitch_class - low) % 12


def _melody_pitch_at(melody: np.ndarray, pitch_low: int) -> np.ndarray:
    """(T,) the melody's sounding MIDI pitch at each step, or the last one before (-1 before any)."""
    current, out = -1, np.full(len(melody), -1, np.int64)
    for t, token in enumerate(melody):
        if token >= 2:
            current = int(token) - 2 + pitch_low
        out[t] = current
    return out


def block_chords(melody: np.ndarray, voices: int, pitch_low: int, steps_per_beat: int) -> np.ndarray:
    """A rule-based accompaniment (T, V): on every beat, the diatonic triad of the melody's key
    (tried in the order I, V, IV, vi, ii, iii) that contains the melody's pitch class, voiced in
    the registers of `REGISTERS` (root in the bass), one chord per beat."""
    key = estimate_key(pitch_classes(melody[:, None], pitch_low))
    degrees = MAJOR_SCALE if key[1] == "major" else (0, 2, 3, 5, 7, 8, 11)
    order = (0, 4, 3, 5, 1, 2)
    triads = [[(key[0] + degrees[(d + k) % 7]) % 12 for k in (0, 2, 4)] for d in order]
    sounding = _melody_pitch_at(melody, pitch_low)
    out = np.zeros((len(melody), voices), np.int64)
    for start in range(0, len(melody), steps_per_beat):
        p = sounding[start]
        if p < 0:
            continue
        chord = next((c for c in triads if p % 12 in c), triads[0])
        for v in range(voices):
            low, high = register(v, voices)
            pc = chord[0] if v == voices - 1 else chord[(v + 1) % 3]
            _place(out, v, start, min(len(melody), start + steps_per_beat), _in_range(pc, low, high) - pitch_low)
    return out


def random_in_key(melody: np.ndarray, voices: int, pitch_low: int, steps_per_beat: int,
                  rng: np.random.Generator) -> np.ndarray:
    """A random accompaniment (T, V): on every beat where the melody has begun, each voice plays a
    quarter note of a random pitch of the melody key's scale in its register."""
    key = estimate_key(pitch_classes(melody[:, None], pitch_low))
    pcs = sorted(scale(key))
    sounding = _melody_pitch_at(melody, pitch_low)
    out = np.zeros((len(melody), voices), np.int64)
    for start in range(0, len(melody), steps_per_beat):
        if sounding[start] < 0:
            continue
        for v in range(voices):
            low, high = register(v, voices)
            choices = [p for p in range(low, high + 1) if p % 12 in pcs]
            _place(out, v, start, min(len(melody), start + steps_per_beat),
                   int(rng.choice(choices)) - pitch_low)
    return out


def pieces_of(melody: np.ndarray, accompaniment: np.ndarray, piece: np.ndarray
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Consecutive segments (N, T), (N, T, V) of each piece (N,) joined: [(melody (T',),
    accompaniment (T', V))]."""
    out = []
    for k in np.unique(piece):
        idx = np.nonzero(piece == k)[0]
        out.append((melody[idx].reshape(-1), accompaniment[idx].reshape(-1, accompaniment.shape[-1])))
    return out


def total_figures(pairs: Sequence[tuple[np.ndarray, np.ndarray]], pitch_low: int,
                  steps_per_beat: int) -> FitFigures:
    total = FitFigures()
    for melody, acc in pairs:
        total.add(fit_figures(melody, acc, pitch_low, steps_per_beat))
    return total


COLUMNS = (("harmonic_fit", "harmonic fit"), ("coverage", "coverage"), ("on_beat", "onsets on beat"),
           ("on_eighth", "on eighths"), ("in_key", "in key"), ("key_agreement", "same key"))


def format_report(report: dict[str, dict[str, dict[str, float]]]) -> str:
    """The figures of `evaluate_accompaniment` as one table per style."""
    lines = []
    for style, arms in report.items():
        pieces = int(next(iter(arms.values()))["pieces"]) if arms else 0
        lines.append(f"{style} ({pieces} held-out pieces)")
        lines.append(f"  {'':14}" + "".join(f"{title:>16}" for _, title in COLUMNS))
        for arm, row in arms.items():
            lines.append(f"  {arm:14}" + "".join(f"{row[key]:>16.3f}" for key, _ in COLUMNS))
    return "\n".join(lines)
