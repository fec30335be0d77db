"""CLI subcommands that look at audio and models: `gansynth evaluate` (pitch accuracy of a model's
notes side by side with real notes) and `gansynth spectrogram` (a PNG of an audio file)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "evaluate", help="pitch accuracy (pyin) of a model's notes side by side with real notes")
    parser.add_argument("--model", default=None, help="exported model .pt (default: the shipped one)")
    parser.add_argument("--real", required=True, help="NSynth-style folder of real notes to compare with")
    parser.add_argument("--split", default=None, help="only real notes of this split (splits.csv)")
    parser.add_argument("--notes", type=int, default=122, help="notes measured on each side (default 122)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    parser.add_argument("--figure", default=None, help="PNG of generated vs real spectrograms")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=run_evaluate)

    spectrogram = subparsers.add_parser("spectrogram", help="write a spectrogram PNG of an audio file")
    spectrogram.add_argument("audio", help="input .wav or .flac")
    spectrogram.add_argument("-o", "--output", required=True, help="output .png")
    spectrogram.add_argument("--title", default=None)
    spectrogram.set_defaults(handler=run_spectrogram)


def run_spectrogram(args: argparse.Namespace) -> None:
    from gansynth.plots import save_spectrogram_png

    save_spectrogram_png(args.audio, args.output, args.title)


def run_evaluate(args: argparse.Namespace) -> None:
    import json
    from dataclasses import asdict

    import numpy as np

    from gansynth.evaluate import (
        comparison_figure,
        generated_notes,
        octave_rows,
        pitch_report,
        real_notes,
    )
    from gansynth.io import atomic_path, check_output

    # every output is checked before the minutes of generation and pitch tracking
    if args.json:
        check_output(args.json, (".json",), "--json output")
    if args.figure:
        check_output(args.figure, (".png",), "--figure output")
    gen_audio, gen_pitch, model = generated_notes(args.model, args.notes, args.seed)
    pitch_min, pitch_max, rate = model.pitch_min, model.pitch_max, model.sample_rate
    real_audio, real_pitch, real_names = real_notes(args.real, pitch_min, pitch_max, args.notes,
                                                    rate, model.note_length, args.split, args.seed)
    gen = pitch_report(gen_audio, gen_pitch, rate, desc=None if args.quiet else "pyin on generated notes")
    real = pitch_report(real_audio, real_pitch, rate, desc=None if args.quiet else "pyin on real notes")
    ratio = gen.accuracy / real.accuracy if real.accuracy else float("nan")
    print(f"pitch accuracy (pyin median f0 within +-{gen.tolerance} semitone, MIDI {pitch_min}-{pitch_max}):")
    print(f"  generated : {gen.accuracy:6.1%}  ({gen.hits}/{gen.total}, {gen.unvoiced} unvoiced)")
    print(f"  real      : {real.accuracy:6.1%}  ({real.hits}/{real.total}, {real.unvoiced} unvoiced)"
          f"  [{args.real}{', split ' + args.split if args.split else ''}]")
    print(f"  generated / real: {ratio:.2f}")
    print("by octave (generated, real):")
    print("\n".join(octave_rows([gen, real], pitch_min, pitch_max)))
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({"generated": asdict(gen), "real": asdict(real),
                                       "ratio": ratio, "model": args.model, "real_dataset": str(args.real),
                                       "split": args.split}, indent=1))
    if args.figure:
        # one column per pitch that both sides have, real notes from distinct instruments
        columns = [real_pitch.index(q) for q in (36, 48, 60, 72) if q in real_pitch]
        columns = columns or list(range(min(4, len(real_pitch))))
        gens = [gen_audio[int(np.argmin(np.abs(np.array(gen_pitch) - real_pitch[j])))] for j in columns]
        comparison_figure(args.figure, gens, [real_audio[j] for j in columns],
                          [f"MIDI {real_pitch[j]}\n{real_names[j]}" for j in columns], rate)
