"""CLI subcommands that look at audio and models: `gansynth evaluate` (pitch accuracy of a model's
notes side by side with real notes), `gansynth evaluate-timbres` (family accuracy of rendered
notes per GM program, default seed vs family search) and `gansynth spectrogram` (a PNG of an audio
file)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gansynth.evaluate import SideReport


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "evaluate", help="a model's notes beside real notes: classifier pitch accuracy and entropy, "
                         "FID, NDB, pyin pitch accuracy and signal checks")
    parser.add_argument("--model", default=None, help="exported model .pt (default: the shipped one)")
    parser.add_argument("--real", required=True, help="NSynth-style folder of real notes to compare with")
    parser.add_argument("--split", default=None,
                        help="split of the real notes (default: test where the dataset has splits.csv; "
                             "its train split is then the real-vs-real baseline)")
    parser.add_argument("--notes", type=int, default=512, help="notes measured on each side (default 512)")
    parser.add_argument("--pyin-notes", type=int, default=122,
                        help="of those, notes whose pitch pyin tracks (slow; default 122)")
    parser.add_argument("--classifier", default=None, help="note classifier file (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    parser.add_argument("--figure", default=None, help="PNG of generated vs real spectrograms")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=run_evaluate)

    classifier = subparsers.add_parser(
        "train-classifier", help="train the note classifier that evaluate measures with",
        description="Train the pitch + instrument-family classifier (gansynth.classifier) on the "
                    "train split of an NSynth-style dataset (splits.csv, e.g. from data build-gm), "
                    "keep the best epoch on valid, and store the test split's accuracies in the file.")
    classifier.add_argument("dataset", help="NSynth-style folder with splits.csv")
    classifier.add_argument("-o", "--output", required=True, help="classifier file to write (.pt)")
    classifier.add_argument("--epochs", type=int, default=8, help="passes over the train split (default 8)")
    classifier.add_argument("--seed", type=int, default=0)
    classifier.add_argument("--quiet", action="store_true")
    classifier.set_defaults(handler=run_train_classifier)

    timbres = subparsers.add_parser(
        "evaluate-timbres", help="family accuracy of rendered notes per GM program: default seed vs "
                                 "--timbre-by family search, at held-out pitches",
        description="For each GM program (a notional track playing in each of --ranges), render "
                    "notes at held-out pitches (never the search's probe pitches) with (a) the default "
                    "per-track seed and (b) the latent `render --timbre-by family` picks, and "
                    "print the note classifier's family accuracy of both (docs/evaluation.md).")
    timbres.add_argument("--programs", default=None,
                         help="comma-separated GM programs 0..127 (default: a spread over families, "
                              "0,24,32,40,41,42,56,65,68,71,73,19)")
    timbres.add_argument("--ranges", default="36-60,48-72,60-84", metavar="LO-HI,...",
                         help="MIDI ranges a notional track of each program plays in turn "
                              "(default 36-60,48-72,60-84)")
    timbres.add_argument("--family-search", type=int, default=8, metavar="N",
                         help="candidate seeds of the family search (default 8)")
    timbres.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    timbres.add_argument("--model", default=None, help="exported model .pt (default: the shipped one)")
    timbres.add_argument("--classifier", default=None,
                         help="note classifier file (default: the shipped one)")
    timbres.add_argument("--batch-size", type=int, default=16, help="notes per model call (default 16)")
    timbres.add_argument("--json", default=None, help="also write the figures to this JSON file")
    timbres.set_defaults(handler=run_evaluate_timbres)

    spectrogram = subparsers.add_parser("spectrogram", help="write a spectrogram PNG of an audio file")
    spectrogram.add_argument("audio", help="input .wav or .flac")
    spectrogram.add_argument("-o", "--output", required=True, help="output .png")
    spectrogram.add_argument("--title", default=None)
    spectrogram.set_defaults(handler=run_spectrogram)


def run_train_classifier(args: argparse.Namespace) -> None:
    from gansynth.classifier_train import train_classifier

    def show(epoch: int, loss: float, pitch: float, family: float) -> None:
        print(f"epoch {epoch}: train loss {loss:.3f}, valid pitch accuracy {pitch:.3f}, "
              f"family accuracy {family:.3f}", flush=True)

    classifier = train_classifier(args.dataset, args.output, epochs=args.epochs, seed=args.seed,
                                  progress=not args.quiet, on_epoch=show)
    m = classifier.metrics
    print(f"wrote {args.output}: test pitch accuracy {m['test_pitch_accuracy']:.3f}, family accuracy "
          f"{m['test_family_accuracy']:.3f} ({int(m['test_notes'])} notes of "
          f"{int(m['test_instruments'])} instruments it never saw)")


def _int_list(text: str, what: str) -> list[int]:
    from gansynth.errors import BadInputError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise BadInputError(f"{what} {text!r}: expected comma-separated whole numbers, e.g. 0,40,73") from err


def run_evaluate_timbres(args: argparse.Namespace) -> None:
    import dataclasses
    import json
    import time

    from gansynth.classifier import load_classifier
    from gansynth.errors import BadInputError
    from gansynth.io import atomic_path, check_output
    from gansynth.synth import NoteModel, Synthesizer
    from gansynth.timbre_family import (
        DEFAULT_PROGRAMS,
        check_search,
        evaluate_timbres,
        format_evaluation,
    )

    started = time.perf_counter()
    if args.json:
        check_output(args.json, (".json",), "--json output")
    programs = DEFAULT_PROGRAMS if args.programs is None else _int_list(args.programs, "--programs")
    ranges = []
    for part in args.ranges.split(","):
        low, _, high = part.partition("-")
        try:
            ranges.append((int(low), int(high)))
        except ValueError as err:
            raise BadInputError(f"--ranges {args.ranges!r}: expected LO-HI pairs, e.g. 36-60,48-72") from err
    check_search(args.family_search)
    classifier = load_classifier(args.classifier)
    model: NoteModel | None = getattr(args, "model_object", None)
    synth = (Synthesizer(model, batch_size=args.batch_size) if model is not None
             else Synthesizer.load(args.model, batch_size=args.batch_size))
    result = evaluate_timbres(synth, classifier, programs, seed=args.seed,
                              search=args.family_search, ranges=ranges)
    seconds = time.perf_counter() - started

    def pitches(values: tuple[int, ...]) -> str:
        return ",".join(map(str, values))

    print(f"family accuracy of rendered notes; default seed of program i: {result.seed} + i; "
          f"family search over seeds {result.seed}..{result.seed + result.search - 1}")
    for (low, high), probes, held in zip(result.ranges, result.probes, result.held_out, strict=True):
        print(f"  track range MIDI {low}-{high}: probe pitches {pitches(probes)}, "
              f"held-out pitches {pitches(held)}")
    print("\n".join(format_evaluation(result)))
    print(f"measured in {seconds:.1f} s")
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({
                "rows": [dataclasses.asdict(r) for r in result.rows],
                "ranges": result.ranges, "probes": result.probes, "held_out": result.held_out,
                "search": result.search,
                "seed": result.seed, "default_accuracy": result.default_accuracy,
                "searched_accuracy": result.searched_accuracy, "chance": result.chance,
                "probe_heard": result.probe_heard,
                "model": args.model, "classifier": args.classifier, "seconds": seconds}, indent=1))


def run_spectrogram(args: argparse.Namespace) -> None:
    from gansynth.plots import save_spectrogram_png

    save_spectrogram_png(args.audio, args.output, args.title)


def _real_split(dataset: str, split: str | None) -> str | None:
    """The split of the real notes: the asked one, else "test" where the dataset has splits.csv."""
    from pathlib import Path

    if split is not None:
        return split
    return "test" if (Path(dataset) / "splits.csv").is_file() else None


def run_evaluate(args: argparse.Namespace) -> None:
    import dataclasses
    import json

    import numpy as np

    from gansynth.classifier import load_classifier
    from gansynth.evaluate import (
        comparison_figure,
        generated_notes,
        note_embeddings,
        real_notes,
        set_distance,
        side_report,
    )
    from gansynth.io import atomic_path, check_output

    # every output is checked before the minutes of generation and measurement
    if args.json:
        check_output(args.json, (".json",), "--json output")
    if args.figure:
        check_output(args.figure, (".png",), "--figure output")
    pyin_notes = min(args.pyin_notes, args.notes)
    classifier = load_classifier(args.classifier)
    gen_audio, gen_pitch, model = generated_notes(args.model, args.notes, args.seed)
    pitch_min, pitch_max, rate = model.pitch_min, model.pitch_max, model.sample_rate
    split = _real_split(args.real, args.split)
    real_audio, real_pitch, real_names = real_notes(args.real, pitch_min, pitch_max, args.notes,
                                                    rate, model.note_length, split, args.seed)
    quiet = args.quiet
    gen, generated = side_report(classifier, np.stack(gen_audio), gen_pitch, rate, pyin_notes,
                                 desc=None if quiet else "pyin on generated notes")
    real, reference = side_report(classifier, np.stack(real_audio), real_pitch, rate, pyin_notes,
                                  desc=None if quiet else "pyin on real notes")
    fid, ndb, k = set_distance(reference, generated, seed=args.seed)
    gen = dataclasses.replace(gen, fid=fid, ndb=ndb, ndb_k=k)
    baseline = "none (the real notes have no other split)"
    if split is not None and split != "train":
        base_audio, _, _ = real_notes(args.real, pitch_min, pitch_max, args.notes, rate,
                                      model.note_length, "train", args.seed)
        fid, ndb, k = set_distance(reference, note_embeddings(classifier, np.stack(base_audio)),
                                   seed=args.seed)
        real = dataclasses.replace(real, fid=fid, ndb=ndb, ndb_k=k)
        baseline = f"{len(base_audio)} train-split notes against the {split} notes"
    where = f"{args.real}{', split ' + split if split else ''}"
    print(f"{gen.notes} generated notes (MIDI {pitch_min}-{pitch_max}) beside {real.notes} real notes "
          f"[{where}]; real-side FID/NDB: {baseline}")
    print("\n".join(format_table(gen, real)))
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({
                "generated": dataclasses.asdict(gen), "real": dataclasses.asdict(real),
                "model": args.model, "classifier": args.classifier, "real_dataset": str(args.real),
                "split": split, "baseline": baseline, "seed": args.seed,
                "classifier_test_accuracy": classifier.metrics.get("test_pitch_accuracy")}, indent=1))
    if args.figure:
        # one column per pitch that both sides have, real notes from distinct instruments
        columns = [real_pitch.index(q) for q in (36, 48, 60, 72) if q in real_pitch]
        columns = columns or list(range(min(4, len(real_pitch))))
        gens = [gen_audio[int(np.argmin(np.abs(np.array(gen_pitch) - real_pitch[j])))] for j in columns]
        comparison_figure(args.figure, gens, [real_audio[j] for j in columns],
                          [f"MIDI {real_pitch[j]}\n{real_names[j]}" for j in columns], rate)


def format_table(gen: SideReport, real: SideReport) -> list[str]:
    """The side-by-side table of two `SideReport`s (generated, real)."""
    def cell(value: object, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    rows = [("classifier pitch accuracy", "pitch_accuracy", ".3f"),
            ("pitch entropy (nats)", "pitch_entropy", ".3f"),
            ("FID (classifier embedding)", "fid", ".2f"),
            ("NDB (k-means bins differing)", "ndb", "d"),
            ("pyin pitch accuracy", "pyin_accuracy", ".3f"),
            ("energy above 7 kHz", "hiband_energy", ".4f"),
            ("level after release (dB)", "release_level", ".1f"),
            ("spectral flatness (dB)", "spectral_flatness", ".1f")]
    lines = [f"  {'':30s} {'generated':>10s} {'real':>10s}"]
    for label, key, fmt in rows:
        lines.append(f"  {label:30s} {cell(getattr(gen, key), fmt):>10s} {cell(getattr(real, key), fmt):>10s}")
    bands = sorted({*gen.pyin_by_octave, *real.pyin_by_octave}, key=lambda b: int(b.split("-")[0]))
    for band in bands:
        g, r = gen.pyin_by_octave.get(band), real.pyin_by_octave.get(band)
        lines.append(f"  {'  pyin MIDI ' + band:30s} {cell(g, '.3f'):>10s} {cell(r, '.3f'):>10s}")
    return lines
