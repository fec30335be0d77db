"""Melody in, multi-track accompaniment out: the Python side of `gansynth accompany`.

    result = accompany("data/midi/ode_to_joy.mid", style="chorale", instruments=[40, 41, 42, 32])
    score_to_midi(result.score, "ode_chorale.mid")

The melody track is kept exactly as it is (notes, velocities, timing) as track 0. The model
(`gansynth.sequence.accompaniment`) writes its accompanying voices on the melody's beat grid,
one 16-beat segment at a time, and each new track plays one voice at the melody's tempo map
(the grid's beats are placed with `Score.seconds`), so the output keeps the melody's tempo. The
accompaniment stops where the melody's last note ends.
Key: the model was trained in every key (random transposition), so it follows the melody's;
`Accompaniment.key` is the key estimated from the melody.

Tracks and voices: the model has V voices (3), top to bottom. With N tracks: N = 1 plays the
bottom voice, N = 2 the top and bottom, N = V all of them, and tracks beyond V double the
voices from the bottom up, an octave lower when the track's instrument is of the bass family.
Each track's GM program also conditions the voice it plays (its NSynth family).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from gansynth import checks
from gansynth.config import RollConfig
from gansynth.data.gm_programs import GM_PROGRAMS
from gansynth.errors import BadInputError
from gansynth.score import Note, Score, score_from_midi, score_from_notes
from gansynth.sequence.acc_evaluation import (
    block_chords,
    estimate_key,
    key_name,
    pieces_of,
    pitch_classes,
    random_in_key,
    total_figures,
)
from gansynth.sequence.acc_export import AccompanimentModel, load_accompaniment
from gansynth.sequence.parts import (
    STYLE_NAMES,
    cut_voices,
    families_of,
    first_melody_track,
    melody_voice,
    resolve_style,
    voices_to_notes,
)
from gansynth.sequence.roll import REST

#: default instruments (GM programs, top to bottom) of each style's accompanying tracks
STYLE_INSTRUMENTS: dict[str, tuple[int, ...]] = {
    "bach": (19, 19, 19),             # church organ
    "palestrina": (52, 52, 52),       # choir
    "monteverdi": (52, 52, 52),
    "quartets": (40, 41, 42),         # violin, viola, cello
}
MAX_TRACKS = 8
BASS_FAMILY = "bass"


@dataclass
class Accompaniment:
    """The accompanied score (track 0: the melody as given; tracks 1..N: the accompaniment),
    the style (its name), the programs of the new tracks and the melody's estimated key."""

    score: Score
    style: str
    programs: list[int]
    key: str
    voices: np.ndarray  # (T, V) the model's voice tokens over the whole piece

    def summary(self) -> str:
        names = ", ".join(f"{GM_PROGRAMS[p].name} ({p})" for p in self.programs)
        return (f"{self.style} accompaniment in {self.key}: {len(self.programs)} track(s) under the "
                f"melody: {names}; {len(self.score.notes)} notes, {self.score.end_s:.1f} s at "
                f"{self.score.qpm:g} bpm")


def track_voices(tracks: int, voices: int) -> list[int]:
    """The model voice each of `tracks` new tracks plays (see the module doc)."""
    if tracks <= 0:
        return []
    if tracks == 1:
        return [voices - 1]
    if tracks <= voices:
        return sorted({int(round(x)) for x in np.linspace(0, voices - 1, tracks)})
    extra = [voices - 1 - (j % voices) for j in range(tracks - voices)]
    return list(range(voices)) + extra


def _programs(style: str, instruments: Sequence[int] | None, tracks: int | None, voices: int
              ) -> list[int]:
    if instruments is not None:
        programs = [checks.whole(p, "GM program", 0, 127) for p in instruments]
        if not programs:
            raise BadInputError("--instruments needs at least one GM program")
        if tracks is not None and tracks != len(programs):
            raise BadInputError(f"--tracks {tracks} does not match the {len(programs)} instruments given")
    else:
        count = voices if tracks is None else checks.whole(tracks, "number of tracks", 1, MAX_TRACKS)
        default = STYLE_INSTRUMENTS.get(style, (0,) * voices)
        programs = [default[track_voices(count, voices)[i] % len(default)] for i in range(count)]
    if len(programs) > MAX_TRACKS:
        raise BadInputError(f"{len(programs)} accompanying tracks asked; at most {MAX_TRACKS}")
    for p in programs:
        if not GM_PROGRAMS[p].pitched:
            raise BadInputError(f"GM program {p} ({GM_PROGRAMS[p].name}) is not a pitched instrument")
    return programs


def accompany(melody: str | os.PathLike[str] | Score, *, style: str = "chorale",
              instruments: Sequence[int] | None = None, tracks: int | None = None,
              melody_track: int | None = None, seed: int = 0, temperature: float = 1.0,
              model: AccompanimentModel | str | os.PathLike[str] | None = None) -> Accompaniment:
    """Accompany the melody of a MIDI file or score (see the module doc).

    style: a style name of the model (chorale, renaissance, madrigal, quartet) or its corpus
    folder; instruments: GM programs of the new tracks, top to bottom (default: the style's);
    tracks: how many new tracks with the style's instruments; melody_track: the track that is
    the melody (default: the highest by mean pitch); temperature: 0 takes the likeliest token,
    1 samples the model as trained.
    """
    loaded = model if isinstance(model, AccompanimentModel) else load_accompaniment(model)
    config = loaded.config
    roll, net = config.roll, loaded.model
    temperature = checks.finite(temperature, "temperature", low=0.0, high=10.0)
    score = melody if isinstance(melody, Score) else score_from_midi(Path(melody))
    style_id = resolve_style(style, config.data.styles)
    folder = config.data.styles[style_id]
    if melody_track is None:
        melody_track = first_melody_track(score, roll)
    elif melody_track not in {t.index for t in score.tracks}:
        raise BadInputError(f"{score.path}: no track {melody_track}; it has tracks "
                            f"{', '.join(str(t.index) for t in score.tracks)}")
    programs = _programs(folder, instruments, tracks, net.voices)
    played = track_voices(len(programs), net.voices)
    voice_programs = [STYLE_INSTRUMENTS.get(folder, (0,) * net.voices)[v % net.voices]
                      for v in range(net.voices)]
    first_program: dict[int, int] = {}
    for program, v in zip(programs, played, strict=True):
        first_program.setdefault(v, program)  # the first track of a voice sets its instrument
    for v, program in first_program.items():
        voice_programs[v] = program
    tokens = melody_voice(score, melody_track, roll)
    segments = cut_voices(tokens, roll.steps, roll.steps)
    device = next(net.parameters()).device
    generator = torch.Generator(device=device).manual_seed(int(seed))
    with torch.no_grad():
        out = net.generate(torch.as_tensor(segments, device=device),
                           torch.full((len(segments),), style_id, device=device),
                           torch.as_tensor(np.repeat(families_of(voice_programs)[None], len(segments), 0),
                                           device=device),
                           temperature, generator).cpu().numpy()
    voices = out.reshape(-1, net.voices)
    melody_notes = [n for n in score.notes if n.track == melody_track]
    melody_end = max(n.end_s for n in melody_notes)
    voices[int(np.ceil(score.beats(melody_end) * roll.steps_per_beat - 1e-6)):] = REST  # end with it
    velocity = int(np.clip(round(0.8 * float(np.median([n.velocity for n in melody_notes]))), 1, 127))
    names = {0: next(t.name for t in score.tracks if t.index == melody_track) or "Melody"}
    notes = [replace(n, track=0) for n in melody_notes]
    for i, (program, v) in enumerate(zip(programs, played, strict=True)):
        shift = -12 if i >= net.voices and GM_PROGRAMS[program].family == BASS_FAMILY else 0
        notes += _voice_notes(voices[:, v], roll, i + 1, program, velocity, score, shift)
        names[i + 1] = GM_PROGRAMS[program].name
    result = score_from_notes(notes, path=f"<accompaniment of {score.path}>", track_names=names,
                              tempos=score.tempos)
    key = key_name(estimate_key(pitch_classes(tokens[:, None], roll.pitch_low)))
    return Accompaniment(result, STYLE_NAMES.get(folder, folder), programs, key, voices)


def _voice_notes(tokens: np.ndarray, roll: RollConfig, track: int, program: int, velocity: int,
                 score: Score, shift: int) -> list[Note]:
    """One voice's notes as `track`, placed through the melody's tempo map, moved by `shift`."""
    notes = voices_to_notes(tokens, roll, track, program, velocity, score.seconds)
    return [replace(n, pitch=n.pitch + shift) for n in notes if 0 <= n.pitch + shift <= 127]


ARMS = ("corpus", "model", "block chords", "random in key")


def evaluate_accompaniment(loaded: AccompanimentModel, midi_dir: str | os.PathLike[str] | None = None,
                           seed: int = 0, temperature: float = 1.0
                           ) -> dict[str, dict[str, dict[str, float]]]:
    """The figures of `gansynth.sequence.acc_evaluation` on the held-out pieces of the model's
    corpus (the training run's split; `midi_dir` overrides where it lies): for each arm of
    `ARMS` (the corpus's own accompaniment, the model's, and the two baselines), per style and
    over all ("all"). The model gets each piece's style and instruments; a voice that the piece
    lacks is given as silent, as in training."""
    from gansynth.sequence.acc_train import build_accompaniment_corpus

    config, net = loaded.config, loaded.model
    roll = config.roll
    valid = build_accompaniment_corpus(config, midi_dir).valid
    device = next(net.parameters()).device
    generator = torch.Generator(device=device).manual_seed(int(seed))
    with torch.no_grad():
        generated = net.generate(torch.as_tensor(valid.melody.astype(np.int64), device=device),
                                 torch.as_tensor(valid.style, device=device),
                                 torch.as_tensor(valid.families, device=device),
                                 temperature, generator).cpu().numpy()
    rng = np.random.default_rng(seed)
    report: dict[str, dict[str, dict[str, float]]] = {}
    styles = [(-1, "all"), *((i, STYLE_NAMES.get(s, s)) for i, s in enumerate(config.data.styles))]
    for style_id, name in styles:
        keep = np.ones(len(valid), bool) if style_id < 0 else valid.style == style_id
        pieces = valid.piece[keep]
        melody = valid.melody[keep].astype(np.int64)
        arms = {"corpus": pieces_of(melody, valid.accompaniment[keep].astype(np.int64), pieces),
                "model": pieces_of(melody, generated[keep], pieces)}
        melodies = [m for m, _ in arms["corpus"]]
        arms["block chords"] = [(m, block_chords(m, net.voices, roll.pitch_low, roll.steps_per_beat))
                                for m in melodies]
        arms["random in key"] = [(m, random_in_key(m, net.voices, roll.pitch_low, roll.steps_per_beat, rng))
                                 for m in melodies]
        report[name] = {arm: total_figures(pairs, roll.pitch_low, roll.steps_per_beat).row()
                        for arm, pairs in arms.items()}
    return report
