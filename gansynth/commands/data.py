"""`gansynth data ...`: build-gm (render a dataset from a GM SoundFont), cache (store features),
info (summarize and check a dataset). Thin wrappers over gansynth.data."""

from __future__ import annotations

import argparse
import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

from gansynth.config import (
    DataConfig,
    ExperimentConfig,
    SpectralConfig,
    config_from_dict,
    load_config,
    parse_overrides,
)
from gansynth.errors import BadInputError, ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    data = subparsers.add_parser("data", help="build, cache and inspect NSynth-style note datasets")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    build = sub.add_parser("build-gm", help="render an NSynth-format dataset from a General MIDI SoundFont")
    build.add_argument("--soundfont", required=True, help="path to a .sf2 General MIDI SoundFont")
    build.add_argument("--out", required=True, help="output folder (created; a rerun resumes)")
    build.add_argument("--programs", default="0-127", help="GM programs, e.g. 0-127 or 0,40,73 (default 0-127)")
    build.add_argument("--pitches", default="24-84", help="MIDI pitches (default 24-84)")
    build.add_argument("--velocities", default="25,50,75,100,127", help="MIDI velocities (default 25,50,75,100,127)")
    build.add_argument("--workers", type=int, default=1, help="parallel render processes (default 1)")
    build.add_argument("--split-by", default="instrument", choices=["instrument", "note"],
                       help="hash instruments (default: no instrument in two splits) or single notes into 80/10/10")
    build.add_argument("--gain", type=float, default=0.6, help="FluidSynth master gain (default 0.6)")
    build.add_argument("--silence-db", type=float, default=-60.0,
                       help="notes whose peak is below this (dBFS) are skipped as silent (default -60)")
    build.add_argument("--audio-format", default="wav", choices=["wav", "flac"],
                       help="write audio/<note_str>.wav or .flac: the same 16-bit samples, FLAC in "
                       "30-40%% of the bytes (default wav; a rerun resumes only in the build's format)")
    build.set_defaults(handler=_build_gm)

    cache = sub.add_parser("cache", help="store a dataset's spectral features in a memory-mapped cache")
    _dataset_options(cache, "`spectral` and `data` sections apply", "skip and count unreadable notes",
                     "spectral.layout=base data.families=[keyboard]")
    cache.add_argument("--out", help="cache folder (default: data.cache, else <dataset>/cache)")
    cache.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    cache.set_defaults(handler=_cache)

    info = sub.add_parser("info", help="summarize a dataset (and with --check decode every note)")
    _dataset_options(info, "`data` section filters the notes", "skip and count bad notes",
                     "data.split=train")
    info.add_argument("--check", action="store_true", help="decode every note's audio")
    info.set_defaults(handler=_info)


def _dataset_options(parser: argparse.ArgumentParser, config_use: str, skip_help: str,
                     override_example: str) -> None:
    """The dataset argument and the options `data cache` and `data info` share."""
    parser.add_argument("dataset", help="NSynth-style folder or TFRecord file")
    parser.add_argument("--config", help="training recipe (validated as `gansynth train` does) whose "
                        + config_use)
    parser.add_argument("--skip-bad", action="store_true", help=skip_help)
    parser.add_argument("--strict", action="store_true", help="refuse audio at another sample rate")
    parser.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[],
                        metavar="KEY=VALUE", help=f"config overrides such as {override_example}")


def load_sections(path: str | None, overrides: list[str], dataset: str,
                  **data_fields: Any) -> tuple[DataConfig, SpectralConfig]:
    """The `data` and `spectral` sections of a recipe + `section.field=value` overrides, with
    data.path set to `dataset` and the true `data_fields` (e.g. skip_bad) set.

    With a recipe (`--config`), the whole recipe is validated as an `ExperimentConfig`, as
    `gansynth train` loads it, so a key train refuses is refused here with the same message.
    Without one, only `spectral.*` and `data.*` overrides apply (others are refused).
    """
    if path:
        config = load_config(ExperimentConfig, path, overrides)
        data, spectral = config.data, config.spectral
    else:
        raw = parse_overrides(overrides)
        others = sorted(set(raw) - {"spectral", "data"})
        if others:
            raise ConfigError(f"--set: section {others[0]!r} does not apply here; without --config "
                              "only spectral.* and data.* overrides apply (pass the recipe with --config)")
        spectral = config_from_dict(SpectralConfig, raw.get("spectral") or {}, prefix="spectral.")
        data = config_from_dict(DataConfig, raw.get("data") or {}, prefix="data.")
    flags = {k: v for k, v in data_fields.items() if v}
    return dataclasses.replace(data, path=dataset, **flags), spectral


def parse_int_list(text: str, name: str, low: int, high: int) -> tuple[int, ...]:
    """Parse "24-84", "0,40,73" or "0-7,40" into sorted unique ints in [low, high]."""
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                first, last = part.split("-", 1)
                lo, hi = int(first), int(last)
                if lo > hi:
                    raise ValueError
                values.update(range(lo, hi + 1))
            else:
                values.add(int(part))
        except ValueError as err:
            raise BadInputError(f"--{name} {text!r}: {part!r} is not a number or a range like 24-84") from err
    if not values:
        raise BadInputError(f"--{name} {text!r}: no values given")
    bad = [v for v in sorted(values) if not low <= v <= high]
    if bad:
        raise BadInputError(f"--{name} {text!r}: {bad[0]} is outside {low}..{high}")
    return tuple(sorted(values))


def _build_gm(args: argparse.Namespace) -> None:
    from gansynth.data.gm import GMBuildSettings, build_gm

    settings = GMBuildSettings(
        soundfont=str(Path(args.soundfont).resolve()),
        programs=parse_int_list(args.programs, "programs", 0, 127),
        pitches=parse_int_list(args.pitches, "pitches", 0, 127),
        velocities=parse_int_list(args.velocities, "velocities", 1, 127),
        gain=args.gain, silence_db=args.silence_db, split_by=args.split_by, audio_format=args.audio_format)
    result = build_gm(settings, args.out, workers=args.workers)
    print(result.summary())


def _cache(args: argparse.Namespace) -> None:
    from gansynth.data.cache import build_cache
    from gansynth.data.notes import select_notes
    from gansynth.data.sources import open_source

    data, spectral = load_sections(args.config, args.overrides, args.dataset,
                                   skip_bad=args.skip_bad, strict=args.strict)
    source = open_source(data.path, skip_bad=data.skip_bad, strict=data.strict, check_audio=False,
                         sample_rate=spectral.sample_rate, note_length=spectral.audio_length)
    indices, filters = select_notes(source.notes, data, source.path)
    out = args.out or data.cache or str(Path(data.path) / "cache" if Path(data.path).is_dir()
                                        else Path(data.path).with_suffix(".cache"))
    folder, report = build_cache(source, indices, spectral, out, dtype=args.dtype, skip_bad=data.skip_bad)
    source.report.counts.update(report.counts)
    print(f"{folder}: {len(indices) - report.total} notes cached ({filters.summary()}; "
          f"{source.report.summary()})")


def _info(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from gansynth.data.notes import fail_or_skip, select_notes
    from gansynth.data.sources import open_source

    data, spectral = load_sections(args.config, args.overrides, args.dataset,
                                   skip_bad=args.skip_bad, strict=args.strict)
    source = open_source(data.path, skip_bad=data.skip_bad, strict=data.strict,
                         sample_rate=spectral.sample_rate, note_length=spectral.audio_length)
    indices, filters = select_notes(source.notes, data, source.path)
    notes = [source.notes[i] for i in indices]
    if args.check:
        from gansynth.errors import BadInputError

        for i in tqdm(indices, desc="decoding", unit="note"):
            try:
                source.load_audio(i)
            except BadInputError as err:
                fail_or_skip(source.report if data.skip_bad else None, "bad audio", str(err))
    print(f"{source.path}: {filters.summary()}; {source.report.summary()}")
    if notes:
        pitches = [m.pitch for m in notes]
        print(f"  pitches {min(pitches)}-{max(pitches)}, velocities "
              f"{sorted({m.velocity for m in notes})}, instruments {len({m.instrument_str for m in notes})}")
        for name, counter in (("families", Counter(m.instrument_family_str for m in notes)),
                              ("sources", Counter(m.instrument_source_str for m in notes))):
            print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counter.items())))
    for message in source.report.examples:
        print(f"  bad: {message}")
