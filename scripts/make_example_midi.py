"""Write the example MIDI files shipped in data/midi/ (run: .venv/bin/python scripts/make_example_midi.py).

demo.mid: about 24 s at 100 bpm, 4 tracks -- piano chords held with the sustain pedal (CC64),
a bass line, a melody that climbs above the model's pitch range at the end (octave folding),
and a drum track (skipped by the renderer with a warning).

ode_to_joy.mid: the melody of Beethoven's Ode to Joy (public domain), one flute track in D
major at 108 bpm, 16 bars: the example input of `gansynth accompany`.
"""

from __future__ import annotations

from pathlib import Path

from symusic import ControlChange, Note, Score, Tempo, TimeSignature, Track

from gansynth.io import atomic_path

TPQ = 480
QPM = 100.0
OUT = Path(__file__).resolve().parent.parent / "data" / "midi"

# (root pitch of the chord, chord tones as semitones above it), one chord per bar
PROGRESSION = [(48, (0, 4, 7)), (45, (0, 3, 7)), (41, (0, 4, 7)), (43, (0, 4, 7))] * 2 + [
    (41, (0, 4, 7)), (48, (0, 4, 7))]
MELODY = [  # (bar, beat offset in quarters, length in quarters, pitch, velocity)
    (0, 0, 1.5, 72, 90), (0, 1.5, 0.5, 74, 70), (0, 2, 2, 76, 95),
    (1, 0, 1, 76, 80), (1, 1, 1, 72, 75), (1, 2, 2, 69, 85),
    (2, 0, 1, 69, 80), (2, 1, 1, 72, 82), (2, 2, 1, 77, 100), (2, 3, 1, 76, 78),
    (3, 0, 3, 74, 90), (3, 3, 1, 71, 60),
    (4, 0, 1.5, 79, 100), (4, 1.5, 0.5, 81, 80), (4, 2, 2, 84, 110),
    (5, 0, 1, 88, 105), (5, 1, 1, 86, 90), (5, 2, 2, 84, 95),  # 88, 86: above 84 -> folded
    (6, 0, 2, 81, 85), (6, 2, 2, 77, 80),
    (7, 0, 2, 79, 90), (7, 2, 2, 83, 85),
    (8, 0, 2, 81, 80), (8, 2, 2, 77, 70),
    (9, 0, 4, 72, 100),
]


def demo_score() -> Score:
    bar = 4 * TPQ
    score = Score(TPQ)
    score.tempos.append(Tempo(0, qpm=QPM))
    score.time_signatures.append(TimeSignature(0, 4, 4))

    piano = Track(name="piano", program=0, is_drum=False)
    bass = Track(name="bass", program=33, is_drum=False)
    for i, (root, chord) in enumerate(PROGRESSION):
        start = i * bar
        for offset in chord:  # short chord strokes, held by the pedal for the bar
            piano.notes.append(Note(start, TPQ // 2, root + 12 + offset, 70))
            piano.notes.append(Note(start + 2 * TPQ, TPQ // 2, root + 12 + offset, 55))
        piano.controls.append(ControlChange(start + 10, 64, 127))  # pedal down
        piano.controls.append(ControlChange(start + bar - 20, 64, 0))  # up before the next bar
        for beat, length, step in ((0, 1.5, 0), (1.5, 0.5, 7), (2, 1, 12), (3, 1, 7)):
            bass.notes.append(Note(start + int(beat * TPQ), int(length * TPQ) - 20,
                                   root - 12 + step, 100 if beat == 0 else 80))

    melody = Track(name="melody", program=73, is_drum=False)
    for bar_i, beat, length, pitch, velocity in MELODY:
        melody.notes.append(Note(bar_i * bar + int(beat * TPQ), int(length * TPQ) - 30,
                                 pitch, velocity))

    drums = Track(name="drums", program=0, is_drum=True)
    for i in range(len(PROGRESSION)):
        for beat in range(4):
            t = i * bar + beat * TPQ
            drums.notes.append(Note(t, TPQ // 4, 36 if beat % 2 == 0 else 38, 100))
            drums.notes.append(Note(t + TPQ // 2, TPQ // 4, 42, 60))

    score.tracks.extend([piano, bass, melody, drums])
    return score


ODE_QPM = 108.0
# Ode to Joy in D major as (pitch, length in quarters); 0 is a rest
_A = [(66, 1), (66, 1), (67, 1), (69, 1), (69, 1), (67, 1), (66, 1), (64, 1),
      (62, 1), (62, 1), (64, 1), (66, 1)]
ODE = (_A + [(66, 1.5), (64, 0.5), (64, 2)] + _A + [(64, 1.5), (62, 0.5), (62, 2)]
       + [(64, 1), (64, 1), (66, 1), (62, 1), (64, 1), (66, 0.5), (67, 0.5), (66, 1), (62, 1),
          (64, 1), (66, 0.5), (67, 0.5), (66, 1), (64, 1), (62, 1), (64, 1), (57, 2)]
       + _A + [(64, 1.5), (62, 0.5), (62, 2)])


def ode_to_joy_score() -> Score:
    score = Score(TPQ)
    score.tempos.append(Tempo(0, qpm=ODE_QPM))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    melody = Track(name="melody", program=73, is_drum=False)
    t = 0
    for i, (pitch, length) in enumerate(ODE):
        ticks = int(length * TPQ)
        if pitch:
            accent = 92 if (t // TPQ) % 4 == 0 else 80
            melody.notes.append(Note(t, ticks - 20, pitch, accent if i else 88))
        t += ticks
    score.tracks.append(melody)
    return score


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (("demo.mid", demo_score), ("ode_to_joy.mid", ode_to_joy_score)):
        path = OUT / name
        with atomic_path(path) as tmp:
            make().dump_midi(str(tmp))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
