"""CLI subcommands `gansynth note`, `gansynth interpolate` and `gansynth render`.

Each handler validates the output path and reads its input before loading the model, so bad
input fails fast; audio is written atomically as WAV, FLAC or MP3 (by extension; `--bitrate`
for MP3, see `add_bitrate_option`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gansynth.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np

    from gansynth.score import Score
    from gansynth.synth import NoteModel, Synthesizer


def add_bitrate_option(parser: argparse.ArgumentParser) -> None:
    """Add `--bitrate KBPS` (into `args.bitrate`, None when not given) for a command that writes
    audio by extension; pass it on as `write_audio(..., bitrate_kbps=args.bitrate)`. The values
    and the 64 kbps default are `gansynth.io.check_audio_settings`'s and DEFAULT_MP3_KBPS."""
    parser.add_argument("--bitrate", type=int, default=None, metavar="KBPS",
                        help="MP3 bitrate in kbps (.mp3 output only; default 64): 8..160 at the "
                             "model's 16 kHz, 32..320 at 32-48 kHz, MPEG layer III values only")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="output audio file: .wav, .flac or .mp3")
    add_bitrate_option(parser)
    parser.add_argument("--model", default=None,
                        help="exported model file (default: the shipped data/models model)")
    parser.add_argument("--sample-rate", type=int, default=None,
                        help="output sample rate in Hz, e.g. 44100 or 48000 (default: the model's 16000)")
    parser.add_argument("--device", default="cpu", help="torch device for the model (default cpu)")
    parser.add_argument("--batch-size", type=int, default=8, help="notes per model call (default 8)")
    parser.add_argument("--release", type=float, default=0.2,
                        help="release time in seconds after each note's end (default 0.2)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="precision of the generator network; the inverse transform stays "
                             "float32 (default fp32; see docs/usage.md for bf16's speed and error)")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    note = subparsers.add_parser("note", help="render one note to WAV, FLAC or MP3")
    note.add_argument("--pitch", type=int, required=True, help="MIDI pitch, e.g. 60 = C4")
    note.add_argument("--seed", type=int, default=0, help="timbre seed (default 0)")
    note.add_argument("--velocity", type=int, default=100, help="MIDI velocity 1..127 (default 100)")
    note.add_argument("--duration", type=float, default=None,
                      help="held seconds before the release (default: the model's full note)")
    _common(note)
    note.set_defaults(handler=run_note)

    interp = subparsers.add_parser(
        "interpolate", help="render notes along a timbre interpolation (slerp) between two seeds")
    interp.add_argument("--pitch", type=int, required=True, help="MIDI pitch")
    interp.add_argument("--seeds", type=int, nargs=2, required=True, metavar=("A", "B"),
                        help="timbre seeds of the two ends")
    interp.add_argument("--steps", type=int, default=8, help="notes along the path, ends included")
    interp.add_argument("--velocity", type=int, default=100)
    interp.add_argument("--duration", type=float, default=None,
                        help="held seconds of each note (default: the model's full note)")
    _common(interp)
    interp.set_defaults(handler=run_interpolate)

    render = subparsers.add_parser("render", help="render a MIDI file, one timbre per track")
    render.add_argument("midi", help="input MIDI file (.mid)")
    render.add_argument("--timbre", action="append", default=[], metavar="TRACK=SEED",
                        help="timbre seed of a track (index as reported, or track name); repeatable")
    render.add_argument("--seed", type=int, default=0,
                        help="base seed: track i gets seed+i (or seed+program with --timbre-by "
                             "program; --timbre-by family searches seed .. seed+N-1)")
    render.add_argument("--timbre-by", choices=("track", "program", "family"), default="track",
                        help="default timbre of a track: by track index, by GM program, or "
                             "(family) the candidate seed whose notes the note classifier hears as "
                             "the NSynth family of the track's program (default track)")
    render.add_argument("--family-search", type=int, default=8, metavar="N",
                        help="--timbre-by family: candidate seeds (default 8; each costs one "
                             "model note per probe pitch, up to 3 per track)")
    render.add_argument("--drift", type=float, default=None, metavar="SECONDS",
                        help="move each track's timbre to a new latent every SECONDS (slerp)")
    render.add_argument("--drop-out-of-range", action="store_true",
                        help="drop notes outside the model's pitch range instead of moving octaves")
    render.add_argument("--no-sustain", action="store_true", help="ignore the sustain pedal (CC64)")
    render.add_argument("--peak-db", type=float, default=-1.0,
                        help="peak level of the mix in dBFS (default -1)")
    render.add_argument("--no-normalize", action="store_true",
                        help="only lower the mix to --peak-db if it is louder, never raise it")
    render.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(render)
    render.set_defaults(handler=run_render)


def _check_output(path: str) -> Path:
    from gansynth.io import AUDIO_FORMATS, check_output

    return check_output(path, tuple(AUDIO_FORMATS), "audio output")


def _synth(args: argparse.Namespace, out: Path) -> Synthesizer:
    """The synthesizer of the command's options; `out`'s format is checked against its sample
    rate and `--bitrate` here, before any note is made."""
    from gansynth.io import check_audio_settings
    from gansynth.synth import Synthesizer

    model: NoteModel | None = getattr(args, "model_object", None)
    options = {"sample_rate": args.sample_rate, "batch_size": args.batch_size,
               "release_s": args.release, "precision": args.precision}
    if model is not None:
        synth = Synthesizer(model, device=args.device, **options)  # type: ignore[arg-type]
    else:
        synth = Synthesizer.load(args.model, device=args.device, **options)  # type: ignore[arg-type]
    check_audio_settings(out, synth.sample_rate, args.bitrate)
    return synth


def mp3_label(path: Path, sample_rate: int, bitrate_kbps: int | None) -> str:
    """' (MP3, 64 kbps)' for an MP3 `path`, '' for WAV or FLAC: the bitrate `write_audio` uses."""
    from gansynth.io import check_audio_settings

    kbps = check_audio_settings(path, sample_rate, bitrate_kbps)
    return "" if kbps is None else f" (MP3, {kbps} kbps)"


def _limit_and_write(out: Path, audio: np.ndarray, sample_rate: int, peak_db: float = -1.0,
                     bitrate_kbps: int | None = None) -> str:
    """Write the notes at the model's calibrated level (velocity sets the level); only a peak
    over `peak_db` dBFS is lowered, by one gain for the whole file, and the line says so."""
    import math

    from gansynth.io import write_audio
    from gansynth.render import peak_gain
    from gansynth.synth import peak_dbfs

    audio, gain = peak_gain(audio, peak_db, normalize=False)
    write_audio(out, audio, sample_rate, bitrate_kbps=bitrate_kbps)
    limited = f", lowered {-20 * math.log10(gain):.1f} dB to stay under {peak_db:g} dBFS" if gain < 1 else ""
    return (f"wrote {out}{mp3_label(out, sample_rate, bitrate_kbps)}: "
            f"{audio.shape[0] / sample_rate:.2f} s at {sample_rate} Hz, "
            f"peak {peak_dbfs(audio):.2f} dBFS{limited}")


def run_note(args: argparse.Namespace) -> None:
    out = _check_output(args.output)
    synth = _synth(args, out)
    audio = synth.note(args.pitch, seed=args.seed, velocity=args.velocity, duration=args.duration)
    print(_limit_and_write(out, audio, synth.sample_rate, bitrate_kbps=args.bitrate))


def run_interpolate(args: argparse.Namespace) -> None:
    import numpy as np

    out = _check_output(args.output)
    synth = _synth(args, out)
    steps = synth.interpolate(args.seeds[0], args.seeds[1], args.pitch, args.steps,
                              velocity=args.velocity, duration=args.duration)
    print(_limit_and_write(out, np.concatenate(list(steps)), synth.sample_rate,
                           bitrate_kbps=args.bitrate))


def parse_timbres(specs: Sequence[str], score: Score) -> dict[int, int]:
    """`TRACK=SEED` strings -> {track index: seed}; TRACK is an index or a track name."""
    timbres: dict[int, int] = {}
    for spec in specs:
        track, sep, seed = spec.partition("=")
        try:
            seed_value = int(seed)
        except ValueError:
            seed_value = None
        if not sep or seed_value is None:
            raise BadInputError(f"--timbre {spec!r}: expected TRACK=SEED, e.g. --timbre 0=7")
        matches = [t.index for t in score.tracks
                   if (track.isdigit() and t.index == int(track)) or t.name == track]
        if not matches:
            known = ", ".join(f"{t.index} ({t.name!r})" for t in score.tracks)
            raise BadInputError(f"--timbre {spec!r}: {score.path} has no track {track!r}; "
                                f"tracks: {known}")
        for index in matches:
            timbres[index] = seed_value
    return timbres


def run_render(args: argparse.Namespace) -> None:
    from gansynth.io import write_audio
    from gansynth.render import render_score
    from gansynth.score import score_from_midi
    from gansynth.timbre_family import check_search

    out = _check_output(args.output)
    score = score_from_midi(args.midi, sustain=not args.no_sustain)
    score.require_pitched()
    timbres = parse_timbres(args.timbre, score)
    check_search(args.family_search)
    synth = _synth(args, out)
    result = render_score(synth, score, seed=args.seed, timbre_by=args.timbre_by, timbres=timbres,
                          family_search=args.family_search,
                          drift_s=args.drift, drop_out_of_range=args.drop_out_of_range,
                          peak_dbfs=args.peak_db, normalize=not args.no_normalize,
                          progress=not args.quiet)
    write_audio(out, result.audio, result.sample_rate, bitrate_kbps=args.bitrate)
    print(f"wrote {out}{mp3_label(out, result.sample_rate, args.bitrate)}")
    for line in result.report.summary():
        print(line)
