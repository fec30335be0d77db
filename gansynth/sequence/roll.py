"""Scores <-> piano-roll segments on a beat grid, for the sequence auto-encoder.

Time is counted in quarter-note beats through each score's tempo map (`Score.beats`), so a piece
at 72 bpm and the same piece at 160 bpm give the same roll. A beat has `steps_per_beat` grid
steps; a segment is `segment_beats` beats, i.e. `RollConfig.steps` steps.

A roll is a (T, 2, P) bool array over the pitches pitch_low..pitch_high (P of them):

- ``roll[t, 0, p]`` (onset): a note of pitch p starts at step t;
- ``roll[t, 1, p]`` (hold): pitch p sounds during step t, its onset step included.

A note starts on the step nearest its onset and lasts to the step nearest its release (at least
one step); all pitched tracks are merged; drum notes and pitches outside the range are left
out. Segments are cut from a piece's roll at fixed beats, and a note held across a segment's end
is cut there (its rest is not re-struck in the next segment), so every segment stands alone.
Decoding reads each onset as a note that lasts while its hold stays on without a new onset.

The auto-encoder reads and writes segments as **voices** (T, V) int: each of V voices holds one
note at a time, and its token at a step is REST (0), HOLD (1: its note goes on) or 2 + p (a note
of pitch index p starts). `voices_from_roll` gives each note, in onset order, the free voice
whose last pitch is nearest (notes beyond V at once are left out); `roll_from_voices` plays them
back.

Features of the evaluation (`pitch_class_histogram`, `rhythm_histogram`) and the note F1 of
reconstructions (`onset_f1`) work on rolls.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gansynth.config import RollConfig
from gansynth.score import Note, Score, score_from_notes

ONSET, HOLD = 0, 1
REST, CONTINUE = 0, 1  # voice tokens; 2 + p starts a note of pitch index p
DEFAULT_VELOCITY = 90  # the velocity of decoded notes (the corpus plays every note at 90)
TRACK_NAME = "Piano"
IOI_BINS = (1, 2, 3, 4, 6, 8, 12, 16)  # inter-onset intervals (steps) of the rhythm histogram


def score_roll(score: Score, config: RollConfig) -> np.ndarray:
    """The whole piece as a roll (T, 2, P) bool, T covering its last note (at least one segment
    long, padded with silence to a whole number of segments)."""
    steps_per_beat = config.steps_per_beat
    notes = [n for n in score.pitched_notes() if config.pitch_low <= n.pitch <= config.pitch_high]
    spans = [(int(round(score.beats(n.start_s) * steps_per_beat)),
              int(round(score.beats(n.end_s) * steps_per_beat)), n.pitch - config.pitch_low)
             for n in notes]
    last = max((max(end, start + 1) for start, end, _ in spans), default=0)
    total = max(1, -(-last // config.steps)) * config.steps
    roll = np.zeros((total, 2, config.pitches), bool)
    for start, end, p in sorted(spans):
        start = max(0, start)
        end = max(end, start + 1)
        roll[start: end, HOLD, p] = True
        roll[start, ONSET, p] = True
    return roll


def segments(roll: np.ndarray, config: RollConfig, hop_steps: int | None = None) -> np.ndarray:
    """Segments (N, steps, 2, P) of a piece's roll starting every `hop_steps` steps (default:
    one segment length, no overlap). Each segment keeps only notes that start inside it: the
    holds of notes struck before its start are cleared."""
    length = config.steps
    hop = hop_steps or length
    starts = range(0, max(1, roll.shape[0] - length + 1), hop)
    out = np.zeros((len(starts), length, 2, roll.shape[2]), bool)
    for i, start in enumerate(starts):
        piece = roll[start: start + length]
        out[i, : piece.shape[0]] = piece
        out[i] = clear_carried(out[i])
    return out


def clear_carried(segment: np.ndarray) -> np.ndarray:
    """The segment (T, 2, P) without the holds that continue a note struck before step 0."""
    out = segment.copy()
    for p in np.nonzero(out[0, HOLD] & ~out[0, ONSET])[0]:
        t = 0
        while t < out.shape[0] and out[t, HOLD, p] and not out[t, ONSET, p]:
            out[t, HOLD, p] = False
            t += 1
    return out


def note_spans(segment: np.ndarray) -> list[tuple[int, int, int]]:
    """(start step, end step, pitch index) of every note of a segment (T, 2, P): a note starts at
    an onset and lasts while its hold stays on without a new onset of its pitch."""
    steps = segment.shape[0]
    spans: list[tuple[int, int, int]] = []
    for t, p in zip(*np.nonzero(segment[:, ONSET]), strict=True):
        end = t + 1
        while end < steps and segment[end, HOLD, p] and not segment[end, ONSET, p]:
            end += 1
        spans.append((int(t), int(end), int(p)))
    return spans


def rolls_to_score(rolls: Sequence[np.ndarray] | np.ndarray, config: RollConfig, qpm: float = 120.0,
                   velocity: int = DEFAULT_VELOCITY, path: str = "<autoencoder>") -> Score:
    """Segments (N, T, 2, P) played one after another as a one-track score at `qpm` quarter notes
    per minute (the tempo is kept in the score, so its MIDI file carries it)."""
    seconds_per_step = 60.0 / qpm / config.steps_per_beat
    notes = []
    for i, segment in enumerate(rolls):
        offset = i * config.steps
        for start, end, p in note_spans(np.asarray(segment, bool)):
            notes.append(Note(p + config.pitch_low, velocity, (offset + start) * seconds_per_step,
                              (offset + end) * seconds_per_step))
    return score_from_notes(notes, path=path, track_names={0: TRACK_NAME}, tempos=[(0.0, qpm)])


def voices_from_roll(segment: np.ndarray, voices: int) -> np.ndarray:
    """Voice tokens (T, V) int64 of a segment (T, 2, P); see the module doc."""
    steps = segment.shape[0]
    tokens = np.full((steps, voices), REST, np.int64)
    free_at = np.zeros(voices, np.int64)  # the step from which each voice is free
    last_pitch = np.full(voices, -1, np.int64)
    for start, end, p in sorted(note_spans(segment), key=lambda s: (s[0], -s[2])):
        free = np.nonzero(free_at <= start)[0]
        if len(free) == 0:
            continue
        unused = last_pitch[free] < 0
        distance = np.where(unused, 10_000 + free, np.abs(last_pitch[free] - p))
        v = int(free[np.argmin(distance)])
        tokens[start, v] = 2 + p
        tokens[start + 1: end, v] = CONTINUE
        free_at[v], last_pitch[v] = end, p
    return tokens


def voices_from_rolls(rolls: np.ndarray, voices: int) -> np.ndarray:
    """Voice tokens (N, T, V) int64 of segments (N, T, 2, P), see `voices_from_roll`."""
    out = np.zeros((len(rolls), rolls.shape[1], voices), np.int64)
    for i, segment in enumerate(rolls):
        out[i] = voices_from_roll(segment, voices)
    return out


def roll_from_voices(tokens: np.ndarray, pitches: int) -> np.ndarray:
    """Segments (..., T, 2, P) bool played from voice tokens (..., T, V): a HOLD continues the
    voice's note, a HOLD in a silent voice and pitch indices beyond P are ignored."""
    tokens = np.asarray(tokens)
    out = np.zeros((*tokens.shape[:-1], 2, pitches), bool)
    flat_tokens = tokens.reshape(-1, tokens.shape[-2], tokens.shape[-1])
    flat_out = out.reshape(-1, tokens.shape[-2], 2, pitches)
    for b, segment in enumerate(flat_tokens):
        current = np.full(segment.shape[1], -1, np.int64)
        for t, step in enumerate(segment):
            starts = step >= 2
            current = np.where(starts, step - 2, np.where(step == CONTINUE, current, -1))
            current[current >= pitches] = -1
            on = current >= 0
            flat_out[b, t, HOLD, current[on]] = True
            flat_out[b, t, ONSET, (step - 2)[starts & on]] = True
    return out


def _kept_shift(semitones: int, lowest: int, highest: int, pitches: int) -> int:
    """`semitones` reduced to the largest shift that keeps pitch indices lowest..highest inside
    0..pitches-1 (0 if none does)."""
    return int(np.clip(semitones, -lowest, pitches - 1 - highest))


def transpose_voices(tokens: np.ndarray, semitones: int, pitches: int) -> np.ndarray:
    """Voice tokens moved by `semitones`, reduced like `transpose` so that every note stays in
    0..pitches-1."""
    onsets = tokens[tokens >= 2] - 2
    if len(onsets) == 0 or semitones == 0:
        return tokens
    semitones = _kept_shift(semitones, int(onsets.min()), int(onsets.max()), pitches)
    return np.where(tokens >= 2, tokens + semitones, tokens)


def transpose(segment: np.ndarray, semitones: int) -> np.ndarray:
    """The segment moved by `semitones` along the pitch axis; a shift that would push a note out
    of the range is reduced to the largest one that keeps every note (0 if none does)."""
    used = np.nonzero(segment[:, HOLD].any(axis=0))[0]
    if len(used) == 0 or semitones == 0:
        return segment
    semitones = _kept_shift(semitones, int(used[0]), int(used[-1]), segment.shape[2])
    return np.roll(segment, semitones, axis=2) if semitones else segment


def onset_f1(reference: np.ndarray, estimate: np.ndarray, tolerance: int = 1) -> tuple[float, int, int]:
    """Note F1 of an estimate against a reference segment (T, 2, P): a note matches when it has
    the same pitch and its onset is within `tolerance` steps; each note matches at most once
    (greedy in time order). Returns (F1, reference notes, estimated notes); two empty segments
    give F1 1."""
    ref = sorted(zip(*np.nonzero(reference[:, ONSET]), strict=True))
    est = sorted(zip(*np.nonzero(estimate[:, ONSET]), strict=True))
    if not ref and not est:
        return 1.0, 0, 0
    unused: dict[int, list[int]] = {}
    for t, p in est:
        unused.setdefault(int(p), []).append(int(t))
    hits = 0
    for t, p in ref:
        candidates = unused.get(int(p), [])
        best = min(candidates, key=lambda s: abs(s - int(t)), default=None)
        if best is not None and abs(best - int(t)) <= tolerance:
            candidates.remove(best)
            hits += 1
    return 2.0 * hits / (len(ref) + len(est)), len(ref), len(est)


def pitch_class_histogram(segment: np.ndarray, pitch_low: int) -> np.ndarray:
    """(12,) share of the onsets on each pitch class (zeros without notes)."""
    _, p = np.nonzero(segment[:, ONSET])
    counts = np.bincount((p + pitch_low) % 12, minlength=12).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def rhythm_histogram(segment: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """Rhythm features of a segment: the share of onset steps at each position inside the beat
    (steps_per_beat bins) followed by the share of inter-onset intervals (between consecutive
    steps with an onset) in IOI_BINS (longer ones in the last bin), the two halves weighted
    equally; zeros without notes."""
    steps = np.nonzero(segment[:, ONSET].any(axis=1))[0]
    position = np.bincount(steps % steps_per_beat, minlength=steps_per_beat).astype(np.float64)
    gaps = np.diff(steps)
    bins = np.searchsorted(np.asarray(IOI_BINS), np.minimum(gaps, IOI_BINS[-1]))
    ioi = np.bincount(bins, minlength=len(IOI_BINS)).astype(np.float64)
    halves = [h / h.sum() if h.sum() else h for h in (position, ioi)]
    return np.concatenate(halves) / 2.0


def tv_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance 0.5 * sum |a - b| of two histograms that sum to 1 (0..1)."""
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())
