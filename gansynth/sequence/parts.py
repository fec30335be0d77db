"""Multi-part scores as a melody and accompanying voices on the beat grid (for the accompaniment
model, `gansynth.sequence.accompaniment`).

Each pitched, non-empty track of a score is a **part**. A part becomes one voice of tokens
(`gansynth.sequence.roll`: REST 0, HOLD 1, 2 + p starts pitch index p) on the grid of
`RollConfig` (time in beats through the score's tempo map); where a part plays several notes at
once (a double stop), the highest note that starts first is kept. Parts are ranked by their mean
pitch: the highest is the **melody**, and `voices` of the others, evenly spread over the ranks
from the second to the lowest (the bass is always one), accompany it from top to bottom. A
piece with fewer parts leaves the bottom voices silent.

Every part also carries an **instrument**: its GM program, read as an NSynth family for the
model (`family_index`). music21 writes vocal parts (Soprano, Alto, Canto, Basso, ...) with
program 0, so a part named like a voice counts as a choir (GM 52).

Styles are the corpus folders of `gansynth corpus build-music21` (`STYLE_NAMES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gansynth.config import NSYNTH_FAMILIES, RollConfig
from gansynth.data.gm_programs import GM_PROGRAMS
from gansynth.errors import BadInputError
from gansynth.score import Note, Score, TrackInfo
from gansynth.sequence.roll import (
    CONTINUE,
    REST,
    note_spans,
    roll_from_voices,
    score_roll,
    voices_from_roll,
)

#: corpus folder -> the style name users choose (docs/sequence.md lists sources and sizes)
STYLE_NAMES: dict[str, str] = {"bach": "chorale", "palestrina": "renaissance",
                               "monteverdi": "madrigal", "quartets": "quartet"}
CHOIR_PROGRAM = 52
VOICE_NAMES = ("soprano", "alto", "tenor", "bass", "canto", "quinto", "basso", "cantus", "altus",
               "tenore", "sesto", "quintus", "bassus", "voice")
UNKNOWN_FAMILY = len(NSYNTH_FAMILIES)  # programs without a pitched family (sound effects)
SILENT_FAMILY = UNKNOWN_FAMILY + 1  # the instrument of a voice a piece leaves silent


def part_program(track: TrackInfo) -> int:
    """The GM program a part counts as: its own, or a choir for a vocal part written as program 0."""
    name = track.name.strip().lower()
    if track.program == 0 and any(name.startswith(v) for v in VOICE_NAMES):
        return CHOIR_PROGRAM
    return track.program


def family_index(program: int) -> int:
    """NSynth family index of a GM program (UNKNOWN_FAMILY for unpitched programs)."""
    if not 0 <= program <= 127:
        raise BadInputError(f"GM program {program} is not in 0..127")
    gm = GM_PROGRAMS[program]
    return gm.family_id if gm.pitched else UNKNOWN_FAMILY


def resolve_style(style: str, styles: Sequence[str]) -> int:
    """Index of a style given by its name (chorale) or corpus folder (bach); BadInputError if the
    model has no such style."""
    for i, folder in enumerate(styles):
        if style in (folder, STYLE_NAMES.get(folder, folder)):
            return i
    known = ", ".join(STYLE_NAMES.get(f, f) for f in styles)
    raise BadInputError(f"unknown style {style!r}; this model knows: {known}")


def part_voice(score: Score, track: int, config: RollConfig) -> np.ndarray:
    """One part as voice tokens (T,) over the whole piece (T a whole number of segments)."""
    notes = [n for n in score.notes if n.track == track and not n.is_drum]
    sub = Score(score.path, tuple(notes), score.tracks, score.tempos)
    return voices_from_roll(score_roll(sub, config), 1)[:, 0]


def ranked_parts(score: Score, config: RollConfig) -> list[TrackInfo]:
    """The score's pitched tracks with notes in the roll's range, highest mean pitch first."""
    pitches: dict[int, list[int]] = {}
    for n in score.pitched_notes():
        if config.pitch_low <= n.pitch <= config.pitch_high:
            pitches.setdefault(n.track, []).append(n.pitch)
    tracks = [t for t in score.tracks if t.index in pitches]
    return sorted(tracks, key=lambda t: (-float(np.mean(pitches[t.index])), t.index))


def accompanying_ranks(others: int, voices: int) -> list[int]:
    """Which of `others` lower parts (0 = highest) become the `voices` accompanying voices:
    evenly spread, the lowest always included; all of them when there are not more."""
    if others <= voices:
        return list(range(others))
    return sorted({int(round(x)) for x in np.linspace(0, others - 1, voices)})


@dataclass
class PieceParts:
    """A piece as melody (T,) and accompaniment (T, V) voice tokens (silent voices when it has
    fewer parts) with the programs (V,) of the accompanying parts (-1: silent voice)."""

    melody: np.ndarray
    accompaniment: np.ndarray
    programs: np.ndarray
    melody_track: int


def piece_parts(score: Score, config: RollConfig) -> PieceParts | None:
    """The melody and accompaniment of a multi-part score; None for a piece with fewer than two
    parts in the roll's range."""
    ranked = ranked_parts(score, config)
    if len(ranked) < 2:
        return None
    melody = part_voice(score, ranked[0].index, config)
    acc = np.full((len(melody), config.voices), REST, np.int64)
    programs = np.full(config.voices, -1, np.int64)
    lower = ranked[1:]
    for v, rank in enumerate(accompanying_ranks(len(lower), config.voices)):
        voice = part_voice(score, lower[rank].index, config)
        acc[: len(voice), v] = voice[: len(melody)]
        programs[v] = part_program(lower[rank])
    return PieceParts(melody, acc, programs, ranked[0].index)


def melody_voice(score: Score, track: int, config: RollConfig) -> np.ndarray:
    """A melody track as voice tokens (T,); BadInputError naming the score if the track has no
    notes in the model's range."""
    if not any(n.track == track and config.pitch_low <= n.pitch <= config.pitch_high
               for n in score.pitched_notes()):
        raise BadInputError(f"{score.path}: track {track} has no notes in MIDI "
                            f"{config.pitch_low}..{config.pitch_high}; choose the melody with --melody-track")
    return part_voice(score, track, config)


def cut_voices(tokens: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Segments (N, length, ...) of voice tokens (T, ...) starting every `hop` steps; a note held
    into a segment from before its start is cut (its holds become rests), so segments stand alone."""
    starts = range(0, max(1, tokens.shape[0] - length + 1), hop)
    out = np.zeros((len(starts), length, *tokens.shape[1:]), np.int64)
    for i, start in enumerate(starts):
        piece = tokens[start: start + length]
        out[i, : len(piece)] = piece
    carried = out[:, 0] == CONTINUE
    for t in range(length):
        carried &= out[:, t] == CONTINUE
        out[:, t][carried] = REST
    return out


def first_melody_track(score: Score, config: RollConfig) -> int:
    """The default melody of an input file: its highest part (by mean pitch)."""
    ranked = ranked_parts(score, config)
    if not ranked:
        raise BadInputError(f"{score.path}: no pitched notes in MIDI {config.pitch_low}..{config.pitch_high}")
    return ranked[0].index


def families_of(programs: Sequence[int] | np.ndarray) -> np.ndarray:
    """Family indices (V,) of the accompanying voices' programs (-1: a silent voice)."""
    return np.array([SILENT_FAMILY if p < 0 else family_index(int(p)) for p in programs], np.int64)


def voices_to_notes(tokens: np.ndarray, config: RollConfig, track: int, program: int, velocity: int,
                    seconds: Callable[[float], float], first_step: int = 0) -> list[Note]:
    """The notes of one voice's tokens (T,) as `track` with `program`: step s sounds at
    `seconds((first_step + s) / steps_per_beat)` (a score's tempo map)."""
    roll = roll_from_voices(tokens[:, None], config.pitches)
    notes = []
    for start, end, p in note_spans(roll):
        beats = (first_step + start) / config.steps_per_beat, (first_step + end) / config.steps_per_beat
        notes.append(Note(p + config.pitch_low, velocity, seconds(beats[0]), seconds(beats[1]),
                          track=track, program=program))
    return notes
