"""Scores -> mixed audio: per-track timbre, batched and cached generation, envelope, peak-safe mix.

How a score is rendered (see docs/usage.md for the user-facing version):
1. Drum tracks are skipped with a warning; pitched notes outside the model's pitch range are moved
   by whole octaves into it (or dropped with `drop_out_of_range`); both are counted in the report.
2. Each track gets one timbre latent: an explicit seed/latent from `timbres`, else the seed
   `seed + track index` (`timbre_by="track"`), `seed + program` (`timbre_by="program"`), or
   (`timbre_by="family"`) the seed among seed .. seed + family_search - 1 whose notes the note
   classifier rates most likely of the NSynth family of the track's GM program, probed at a few
   pitches of the track's range (gansynth.timbre_family; a program without a pitched family
   keeps `seed + track index`).
   With `drift_s` the timbre moves by slerp from waypoint k to k+1 every `drift_s` seconds
   (magenta's `secs_per_instrument`), quantized to `drift_steps` positions per segment so that
   notes can share generated audio.
3. Unique (latent, pitch) pairs are generated once, in batches, through the synthesizer's
   bounded cache; the notes of each pair are mixed into the output as soon as it is made.
4. Note i starts at sample round(start_i * sr), is held until round(end_i * sr) (at most the model's
   note length minus the release), then released (raised cosine); gain = (velocity / 127) ** 2.
5. Output length = last note end + release (never truncated). One global gain makes the peak
   exactly `peak_dbfs` (default -1 dBFS), or with `normalize=False` only lowers it to that level;
   resampling (librosa/soxr) happens before that gain so the limit holds at the output rate.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from gansynth import checks
from gansynth.errors import BadInputError
from gansynth.io import resample
from gansynth.score import Note, Score, TrackInfo, score_from_midi, score_from_notes
from gansynth.synth import (
    SAMPLE_RATE_RANGE,
    Latent,
    Synthesizer,
    latent_from_seed,
    latent_key,
    slerp,
)
from gansynth.synth import peak_dbfs as level_dbfs
from gansynth.timbre_family import DEFAULT_SEARCH, check_search

log = logging.getLogger("gansynth.render")

TIMBRE_MODES = ("track", "program", "family")
MIN_PEAK_DBFS = -120.0
MIN_DRIFT_S = 0.5  # a timbre waypoint every half second at the fastest


@dataclass(frozen=True)
class RenderReport:
    """What happened during a render (counts are of notes unless named otherwise)."""

    source: str
    notes_total: int
    notes_rendered: int
    notes_moved: int
    notes_dropped: int
    drum_notes_skipped: int
    drum_tracks_skipped: tuple[int, ...]
    track_timbres: dict[int, str]
    unique_pairs: int
    generated: int
    duration_s: float
    sample_rate: int
    gain: float
    peak_dbfs: float
    notes_shortened: int = 0
    max_note_s: float = 0.0

    def summary(self) -> list[str]:
        """Human-readable lines for the CLI."""
        lines = [
            f"rendered {self.notes_rendered}/{self.notes_total} notes from {self.source}: "
            f"{self.duration_s:.2f} s at {self.sample_rate} Hz, peak {self.peak_dbfs:.2f} dBFS "
            f"(global gain {self.gain:.3g})",
            f"  {self.unique_pairs} unique (timbre, pitch) pairs, {self.generated} generated "
            "(the rest from the cache)",
            "  timbres: " + ", ".join(f"track {t}: {v}" for t, v in sorted(self.track_timbres.items())),
        ]
        if self.notes_moved:
            lines.append(f"  {self.notes_moved} notes outside the model's pitch range moved by octaves")
        if self.notes_dropped:
            lines.append(f"  {self.notes_dropped} notes outside the model's pitch range dropped")
        if self.notes_shortened:
            lines.append(f"  {self.notes_shortened} notes held longer than the model's "
                         f"{self.max_note_s:.2f} s note were cut to it (they fall silent early)")
        if self.drum_tracks_skipped:
            lines.append(f"  {self.drum_notes_skipped} drum notes skipped (tracks "
                         f"{', '.join(map(str, self.drum_tracks_skipped))})")
        return lines


@dataclass(frozen=True)
class RenderResult:
    """audio: (samples,) float32 in [-1, 1] at `sample_rate`; report: see RenderReport."""

    audio: np.ndarray
    sample_rate: int
    report: RenderReport


def peak_gain(audio: np.ndarray, peak_dbfs: float = -1.0, normalize: bool = True
              ) -> tuple[np.ndarray, float]:
    """One gain for the whole signal that makes its peak exactly `peak_dbfs` dBFS, or with
    `normalize=False` only lowers a louder peak to that level. Returns (float32 audio, gain)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    target = 10 ** (peak_dbfs / 20)
    gain = 1.0
    if peak > 0 and (normalize or peak > target):
        gain = target / peak * (1 - 1e-6)  # the margin absorbs float32 rounding of the product
    return (audio * np.float32(gain)).astype(np.float32), gain


def fold_pitch(pitch: int, pitch_min: int, pitch_max: int) -> int | None:
    """Move a pitch by whole octaves into [pitch_min, pitch_max]; None if no octave lands there."""
    while pitch < pitch_min:
        pitch += 12
    while pitch > pitch_max:
        pitch -= 12
    return pitch if pitch >= pitch_min else None


@dataclass
class _TrackTimbre:
    """A track's timbre: a base latent and, for drift, waypoints drawn from `seed`."""

    label: str
    base_key: Hashable
    seed: int
    z0: torch.Tensor
    waypoints: dict[int, torch.Tensor] = field(default_factory=dict)

    def waypoint(self, k: int) -> torch.Tensor:
        if k == 0:
            return self.z0
        if k not in self.waypoints:
            self.waypoints[k] = latent_from_seed(self.seed, self.z0.numel(), index=k)
        return self.waypoints[k]

    def at(self, time_s: float, drift_s: float | None, drift_steps: int) -> tuple[Hashable, torch.Tensor]:
        """(cache key, latent) of this timbre at `time_s`."""
        if drift_s is None:
            return (self.base_key, 0, 0), self.z0
        pos = max(time_s, 0.0) / drift_s
        k = math.floor(pos)
        step = min(math.floor((pos - k) * drift_steps), drift_steps - 1)
        if step == 0:
            return (self.base_key, k, 0), self.waypoint(k)
        return (self.base_key, k, step), slerp(self.waypoint(k), self.waypoint(k + 1), step / drift_steps)


def _track_timbres(synth: Synthesizer, tracks: Sequence[TrackInfo], seed: int, timbre_by: str,
                   timbres: Mapping[int, Latent],
                   chosen: Mapping[int, tuple[int, str]]) -> dict[int, _TrackTimbre]:
    """chosen: track index -> (seed, label) of the family search, for tracks without a timbre."""
    out: dict[int, _TrackTimbre] = {}
    for track in tracks:
        default_seed = seed + (track.program if timbre_by == "program" else track.index)
        given = timbres.get(track.index)
        if isinstance(given, torch.Tensor):
            z = synth.latent(given)
            out[track.index] = _TrackTimbre("latent", ("z", latent_key(z)), default_seed, z)
        elif given is None and track.index in chosen:
            s, label = chosen[track.index]
            out[track.index] = _TrackTimbre(label, ("seed", s), s, synth.latent(s))
        else:
            s = default_seed if given is None else int(given)
            out[track.index] = _TrackTimbre(f"seed {s}", ("seed", s), s, synth.latent(s))
    return out


def _family_seeds(synth: Synthesizer, sc: Score, notes: Sequence[tuple[Note, int]], seed: int,
                  search: int, timbres: Mapping[int, Latent]) -> dict[int, tuple[int, str]]:
    """track index -> (seed, label) of `gansynth.timbre_family.family_timbres` for the tracks
    with rendered notes and no explicit timbre."""
    import time

    from gansynth.timbre_family import FamilySearch, family_timbres

    pitches: dict[int, list[int]] = {}
    for n, pitch in notes:
        if n.track not in timbres:
            pitches.setdefault(n.track, []).append(pitch)
    if not pitches:
        return {}
    started = time.perf_counter()
    finder = FamilySearch(synth, seed=seed, search=search)
    chosen = family_timbres(finder, sc.tracks, pitches)
    log.info("%s: family search over %d seeds: %d probe notes for %d tracks in %.1f s", sc.path,
             search, finder.probe_notes, len(chosen), time.perf_counter() - started)
    return chosen


def _as_score(score: str | os.PathLike[str] | Score | Sequence[Note], sustain: bool) -> Score:
    if isinstance(score, Score):
        return score
    if isinstance(score, (str, os.PathLike)):
        return score_from_midi(score, sustain=sustain)
    return score_from_notes(score)


def render_score(synth: Synthesizer, score: str | os.PathLike[str] | Score | Sequence[Note], *,
                 seed: int = 0, timbre_by: str = "track",
                 timbres: Mapping[int, Latent] | None = None, drift_s: float | None = None,
                 drift_steps: int = 8, drop_out_of_range: bool = False, peak_dbfs: float = -1.0,
                 normalize: bool = True, sample_rate: int | None = None, sustain: bool = True,
                 progress: bool = True, family_search: int = DEFAULT_SEARCH) -> RenderResult:
    """Render a MIDI file, a `Score` or a list of `Note`s to mono audio (see the module doc).

    timbre_by: "track", "program" or "family" (step 2 of the module doc); family_search: candidate
    seeds of the family search (1..4096; each costs one model note per probe pitch).
    timbres: track index -> seed or (latent_dim,) latent, overriding the default per-track seed
    (and the family search).
    sample_rate: output rate (default: the synthesizer's). Returns a `RenderResult` whose audio is
    (samples,) float32 with peak <= `peak_dbfs` dBFS.
    """
    from tqdm import tqdm

    if timbre_by not in TIMBRE_MODES:
        raise BadInputError(f"timbre_by {timbre_by!r} is not one of {', '.join(TIMBRE_MODES)}")
    checks.seed(seed)
    family_search = check_search(family_search)
    if drift_s is not None:
        drift_s = checks.finite(drift_s, "timbre drift (s)", low=MIN_DRIFT_S)
    drift_steps = checks.whole(drift_steps, "drift_steps", 1, 1024)
    peak_dbfs = checks.finite(peak_dbfs, "peak level (dBFS)", MIN_PEAK_DBFS, 0.0)
    out_rate = (synth.sample_rate if sample_rate is None
                else checks.whole(sample_rate, "sample rate", *SAMPLE_RATE_RANGE))
    sc = _as_score(score, sustain)
    sc.require_pitched()
    for index in timbres or {}:
        track = next((t for t in sc.tracks if t.index == index), None)
        if track is None:
            raise BadInputError(f"{sc.path}: timbre given for track {index}, which the score does not have")
        if track.is_drum:
            raise BadInputError(f"{sc.path}: timbre given for track {index} ({track.name!r}), a drum "
                                "track; gansynth renders pitched tracks only")
    model = synth.model
    sr = synth.model_rate

    drum_tracks = tuple(t.index for t in sc.tracks if t.is_drum and t.num_notes > 0)
    drum_notes = sum(1 for n in sc.notes if n.is_drum)
    if drum_tracks:
        log.warning("%s: skipping drum track(s) %s (%d notes): gansynth renders pitched notes only",
                    sc.path, ", ".join(map(str, drum_tracks)), drum_notes)

    # 1. pitches into the model's range
    notes: list[tuple[Note, int]] = []
    moved = dropped = 0
    for n in sc.pitched_notes():
        if model.pitch_min <= n.pitch <= model.pitch_max:
            notes.append((n, n.pitch))
            continue
        folded = None if drop_out_of_range else fold_pitch(n.pitch, model.pitch_min, model.pitch_max)
        if folded is None:
            dropped += 1
        else:
            moved += 1
            notes.append((n, folded))
    if moved or dropped:
        log.info("%s: %d notes outside pitch range %d..%d moved by octaves, %d dropped",
                 sc.path, moved, model.pitch_min, model.pitch_max, dropped)
    if not notes:
        raise BadInputError(
            f"{sc.path}: all {dropped} pitched notes are outside the model's pitch range "
            f"{model.pitch_min}..{model.pitch_max}; render without drop_out_of_range")

    # 2. timbres (the family search probes the model first) and unique (latent, pitch) pairs
    chosen = (_family_seeds(synth, sc, notes, seed, family_search, timbres or {})
              if timbre_by == "family" else {})
    track_timbres = _track_timbres(synth, sc.tracks, seed, timbre_by, timbres or {}, chosen)
    groups: dict[tuple[Hashable, int], list[int]] = {}
    latent_of: dict[Hashable, torch.Tensor] = {}
    onsets = np.empty(len(notes), dtype=np.int64)
    holds = np.empty(len(notes), dtype=np.int64)
    end_max = 0
    for i, (n, pitch) in enumerate(notes):
        key, z = track_timbres[n.track].at(n.start_s, drift_s, drift_steps)
        latent_of.setdefault(key, z)
        groups.setdefault((key, pitch), []).append(i)
        onsets[i] = round(n.start_s * sr)
        end = max(round(n.end_s * sr), int(onsets[i]))
        holds[i] = end - onsets[i]
        end_max = max(end_max, end)

    shortened = int(np.count_nonzero(holds > synth.max_hold))
    if shortened:
        log.warning("%s: %d notes are held longer than the model's %.2f s note and are cut to it",
                    sc.path, shortened, synth.max_hold / sr)

    # 3. generate in batches, mix each note as soon as its audio exists
    mix = np.zeros(end_max + synth.release, dtype=np.float32)
    pairs = list(groups)
    misses_before = synth.cache.misses
    with tqdm(total=len(pairs), unit="note", desc="rendering", disable=not progress,
              leave=False) as bar:
        for b in range(0, len(pairs), synth.batch_size):
            chunk = pairs[b:b + synth.batch_size]
            audios = synth.generate([k for k, _ in chunk], [latent_of[k] for k, _ in chunk],
                                    [p for _, p in chunk])
            for pair, audio in zip(chunk, audios, strict=True):
                for i in groups[pair]:
                    shaped = synth.shape_note(audio, notes[i][0].velocity, int(holds[i]))
                    mix[onsets[i]:onsets[i] + shaped.shape[0]] += shaped
            bar.update(len(chunk))
    generated = synth.cache.misses - misses_before

    # 4. output rate, one global gain
    audio, gain = peak_gain(resample(mix, sr, out_rate), peak_dbfs, normalize)
    pitched_tracks = {n.track for n, _ in notes}
    report = RenderReport(
        source=sc.path, notes_total=len(sc.notes), notes_rendered=len(notes), notes_moved=moved,
        notes_dropped=dropped, drum_notes_skipped=drum_notes, drum_tracks_skipped=drum_tracks,
        track_timbres={t: tt.label for t, tt in track_timbres.items() if t in pitched_tracks},
        unique_pairs=len(pairs), generated=generated, duration_s=audio.shape[0] / out_rate,
        sample_rate=out_rate, gain=gain, peak_dbfs=level_dbfs(audio), notes_shortened=shortened,
        max_note_s=synth.max_hold / sr)
    return RenderResult(audio, out_rate, report)
