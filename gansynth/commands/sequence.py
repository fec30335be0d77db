"""CLI of the sequence models: train-sequence, train-autoencoder, compose, encode, reconstruct,
evaluate-sequence, corpus build-music21.

Thin handlers over the library; heavy imports happen inside them so `gansynth --help` stays fast.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gansynth import checks
from gansynth.errors import BadInputError

MIDI_OUT_SUFFIXES = (".mid", ".midi")
AUDIO_OUT_SUFFIXES = (".wav", ".flac", ".mp3")  # gansynth.io.AUDIO_FORMATS, without importing it


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the sequence subcommands to the `gansynth` parser."""
    from gansynth.commands.render import add_bitrate_option
    from gansynth.sequence import DEFAULT_AUTOENCODER, DEFAULT_MODEL
    from gansynth.sequence.acc_export import DEFAULT_ACCOMPANIMENT_PATH

    for name, what, recipe, example, handler in (
            ("train-sequence", "the LSTM note-sequence model", "lstm_default",
             "train.max_epochs=2 data.midi_dir=my_midi", _train),
            ("train-autoencoder", "the sequence auto-encoder (song embeddings)", "autoencoder_default",
             "train.max_epochs=2 model.variational=false", _train_autoencoder),
            ("train-accompaniment", "the accompaniment model (melody in, voices out)",
             "accompaniment_default", "train.max_epochs=2 data.styles=[bach]", _train_accompaniment)):
        train = subparsers.add_parser(name, help=f"train {what}")
        train.add_argument("--config", default=None, help=f"recipe YAML, e.g. recipes/{recipe}.yaml")
        train.add_argument("--out", required=True, help="run folder (config, checkpoints, samples, model.pt)")
        train.add_argument("--resume", default=None, metavar="CKPT",
                           help="Lightning checkpoint to continue from, e.g. RUN/checkpoints/last.ckpt")
        train.add_argument("--quiet", action="store_true", help="no progress bar")
        train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=f"config overrides, e.g. {example}")
        train.set_defaults(handler=handler)

    compose = subparsers.add_parser(
        "compose", help="write MIDI scores: with the LSTM (new or continuing a primer) or with the "
                        "auto-encoder (a blend, an interpolation, a random or saved embedding)")
    source = compose.add_mutually_exclusive_group()
    source.add_argument("--primer", default=None, metavar="MIDI",
                        help="continue this piece with the LSTM (the output starts with it)")
    source.add_argument("--blend", nargs="+", default=None, metavar="MIDI",
                        help="two or more pieces: decode their (weighted) mean auto-encoder embedding")
    source.add_argument("--interpolate", nargs=2, default=None, metavar=("A", "B"),
                        help="write --steps pieces from A to B (NAME_0.mid ... NAME_{N-1}.mid)")
    source.add_argument("--latent", default=None, metavar="random|EMB.npy",
                        help="decode random embeddings (--segments of them, from --seed) or an "
                             "embedding file written by `gansynth encode`")
    compose.add_argument("--model-pace", action="store_true",
                         help="with --primer: read the primer's beats as they are, not at the "
                              "metrical level where the model keeps its pace (docs/sequence.md)")
    compose.add_argument("-o", "--output", required=True, help="output MIDI file (.mid); with "
                         "--num N > 1 or --interpolate, NAME_0.mid ... NAME_{N-1}.mid")
    compose.add_argument("--model", default=str(DEFAULT_MODEL),
                         help="exported LSTM model (default: the shipped lstm_default.pt)")
    compose.add_argument("--autoencoder", default=str(DEFAULT_AUTOENCODER),
                         help="exported auto-encoder for --blend, --interpolate and --latent "
                              "(default: the shipped autoencoder_default.pt)")
    compose.add_argument("--weights", nargs="+", type=float, default=None,
                         help="--blend weights, one per piece (normalized; default equal)")
    compose.add_argument("--steps", type=int, default=5, help="--interpolate: pieces (default 5)")
    compose.add_argument("--segments", type=int, default=2,
                         help="--latent random: segments of 16 beats to decode (default 2)")
    compose.add_argument("--seconds", type=float, default=30.0,
                         help="LSTM: length to generate (default 30)")
    compose.add_argument("--num", type=int, default=1, help="LSTM: pieces to generate, as one batch")
    compose.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    compose.add_argument("--temperature", type=float, default=None,
                         help="sampling temperature (LSTM default 1; auto-encoder default 0: "
                              "each note on when its probability exceeds 1/2)")
    compose.add_argument("--top-k", type=int, default=0, help="keep the k likeliest tokens (0: all)")
    compose.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1: all)")
    compose.add_argument("--polyphony", type=int, default=8,
                         help="most notes sounding at once (0: no limit; default 8)")
    compose.add_argument("--render", default=None, metavar="AUDIO",
                         help="also play the score through the GAN to this .wav, .flac or .mp3")
    add_bitrate_option(compose)
    compose.add_argument("--timbre", type=int, default=0, help="GAN timbre seed for --render")
    compose.add_argument("--gan-model", default=None,
                         help="exported GAN note model for --render (default: the shipped one)")
    compose.set_defaults(handler=_compose)

    acc = subparsers.add_parser(
        "accompany", help="melody in, multi-track accompaniment out: keeps the melody track and "
                          "writes new tracks under it in a style, with an instrument per track")
    acc.add_argument("melody", help="MIDI file with the melody (other tracks are left out)")
    acc.add_argument("--style", default="chorale",
                     help="chorale, renaissance, madrigal or quartet (default chorale)")
    tracks = acc.add_mutually_exclusive_group()
    tracks.add_argument("--instruments", default=None, metavar="P1,P2,...",
                        help="GM programs of the new tracks, top to bottom (default: the style's)")
    tracks.add_argument("--tracks", type=int, default=None,
                        help="number of new tracks, with the style's instruments (default 3)")
    acc.add_argument("--melody-track", type=int, default=None,
                     help="index of the melody's track (default: the highest part)")
    acc.add_argument("-o", "--output", required=True, help="output MIDI file (.mid)")
    acc.add_argument("--render", default=None, metavar="AUDIO",
                     help="also play the result through the GAN to this .wav, .flac or .mp3")
    add_bitrate_option(acc)
    acc.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    acc.add_argument("--temperature", type=float, default=1.0,
                     help="sampling temperature (0: the likeliest token; default 1)")
    acc.add_argument("--model", default=str(DEFAULT_ACCOMPANIMENT_PATH),
                     help="exported accompaniment model (default: the shipped accompaniment_default.pt)")
    acc.add_argument("--timbre", type=int, default=0,
                     help="GAN timbre seed for --render (the first seed of the family search)")
    acc.add_argument("--timbre-by", choices=("family", "track"), default="family",
                     help="--render: search each track's timbre for its instrument's family with "
                          "the note classifier (default), or seed + track index")
    acc.add_argument("--gan-model", default=None,
                     help="exported GAN note model for --render (default: the shipped one)")
    acc.set_defaults(handler=_accompany)

    encode = subparsers.add_parser("encode", help="write the auto-encoder embeddings of a piece's segments (.npy)")
    encode.add_argument("midi", help="MIDI file")
    encode.add_argument("-o", "--output", required=True, help="output .npy: (segments, latent) float32")
    encode.add_argument("--autoencoder", default=str(DEFAULT_AUTOENCODER), help="exported auto-encoder")
    encode.set_defaults(handler=_encode)

    reconstruct = subparsers.add_parser("reconstruct",
                                        help="decode a piece's own auto-encoder embeddings to MIDI")
    reconstruct.add_argument("midi", help="MIDI file")
    reconstruct.add_argument("-o", "--output", required=True, help="output MIDI file (.mid)")
    reconstruct.add_argument("--autoencoder", default=str(DEFAULT_AUTOENCODER), help="exported auto-encoder")
    reconstruct.add_argument("--temperature", type=float, default=0.0)
    reconstruct.add_argument("--seed", type=int, default=0)
    reconstruct.set_defaults(handler=_reconstruct)

    evaluate = subparsers.add_parser(
        "evaluate-sequence", help="held-out perplexity and generated-vs-corpus statistics")
    evaluate.add_argument("--model", default=str(DEFAULT_MODEL), help="exported sequence model")
    evaluate.add_argument("--corpus", default=None,
                          help="MIDI folder (default: the model's training folder); its held-out "
                               "split is the one the model was trained with")
    evaluate.add_argument("--samples", type=int, default=16, help="generated pieces (default 16)")
    evaluate.add_argument("--seconds", type=float, default=30.0, help="length of each (default 30)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--temperature", type=float, default=1.0)
    evaluate.add_argument("--primer", default=None, metavar="MIDI",
                          help="instead: continue this primer at velocities 50-110 and tempos "
                               "60-180 bpm (--samples each, --seconds long): in-key share and onset gaps")
    evaluate.add_argument("--autoencoder", nargs="?", const=str(DEFAULT_AUTOENCODER), default=None,
                          metavar="MODEL", help="evaluate an auto-encoder instead (default: the "
                          "shipped one): reconstruction F1, blends and interpolations")
    evaluate.add_argument("--accompaniment", nargs="?", const=str(DEFAULT_ACCOMPANIMENT_PATH),
                          default=None, metavar="MODEL",
                          help="evaluate an accompaniment model instead (default: the shipped one) "
                               "on its held-out pieces against the corpus and two baselines: "
                               "harmonic fit, rhythm, key")
    evaluate.add_argument("--pairs", type=int, default=64,
                          help="--autoencoder: segment pairs blended and interpolated (default 64)")
    evaluate.add_argument("--steps", type=int, default=5,
                          help="--autoencoder: pieces per interpolation (default 5)")
    evaluate.set_defaults(handler=_evaluate)

    corpus = subparsers.add_parser("corpus", help="build MIDI corpora for the sequence model")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="WHAT", required=True)
    from gansynth.sequence.music21_corpus import DEFAULT_SETS, SETS

    m21 = corpus_sub.add_parser("build-music21",
                                help="convert music21's bundled scores (chorales, folk songs, masses, "
                                     "madrigals, quartets) to MIDI")
    m21.add_argument("--out", required=True, help="output folder, e.g. data/corpus/music21")
    m21.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS), choices=SETS,
                     help=f"default: {' '.join(DEFAULT_SETS)}; the accompaniment model also uses "
                          "palestrina, monteverdi and quartets")
    m21.add_argument("--limit", type=int, default=0, help="at most N source files per set (0: all)")
    m21.set_defaults(handler=_build_music21)


def _train(args: argparse.Namespace) -> int:
    from gansynth.config import SequenceExperimentConfig
    from gansynth.sequence.train import train_sequence

    def summary(m: dict[str, float]) -> str:
        return (f"validation perplexity: model {m['val_perplexity']:.3f}, unigram "
                f"{m['unigram_perplexity']:.3f}, bigram {m['bigram_perplexity']:.3f}")

    return _run_training(args, SequenceExperimentConfig, train_sequence, summary)


def _train_autoencoder(args: argparse.Namespace) -> int:
    from gansynth.config import AutoencoderExperimentConfig
    from gansynth.sequence.ae_train import train_autoencoder

    def summary(m: dict[str, float]) -> str:
        return (f"held-out reconstruction note F1: {m['valid_f1']:.3f} (mean over segments), "
                f"{m['valid_f1_pooled']:.3f} (pooled)")

    return _run_training(args, AutoencoderExperimentConfig, train_autoencoder, summary)


def _train_accompaniment(args: argparse.Namespace) -> int:
    from gansynth.config import AccompanimentExperimentConfig
    from gansynth.sequence.acc_train import train_accompaniment

    def summary(m: dict[str, float]) -> str:
        return f"held-out negative log-likelihood: {m['valid_nll']:.1f} nats per segment"

    return _run_training(args, AccompanimentExperimentConfig, train_accompaniment, summary)


def _run_training(args: argparse.Namespace, config_cls: Any, train: Any,
                  summary: Callable[[dict[str, float]], str]) -> int:
    """Load the recipe with overrides, train (printing the corpus line first) and print the
    run's summary: the handler of train-sequence and train-autoencoder."""
    from gansynth.config import load_config

    def show(corpus: Any) -> None:
        print(f"corpus: {corpus.describe()}", flush=True)

    config = load_config(config_cls, args.config, args.overrides)
    result = train(config, args.out, resume=args.resume, progress=not args.quiet, on_corpus=show)
    m = result.metrics
    print(summary(m))
    print(f"trained {m['train_seconds'] / 60:.1f} min, {int(m['epochs'])} epochs, "
          f"{int(m['steps'])} steps; exported {result.model_path}")
    return 0


def _output_paths(output: str, num: int, suffixes: tuple[str, ...]) -> list[Path]:
    """The file(s) to write: `output`, or NAME_0 ... NAME_{num-1} with the same suffix; each
    checked to be writable."""
    from gansynth.io import check_output
    from gansynth.sequence.sampling import MAX_NUM

    out = check_output(output, suffixes)
    num = checks.whole(num, "--num", 1, MAX_NUM)
    if num == 1:
        return [out]
    return [check_output(out.with_name(f"{out.stem}_{i}{out.suffix}"), suffixes) for i in range(num)]


def _compose(args: argparse.Namespace) -> int:
    if args.model_pace and not args.primer:
        raise BadInputError("--model-pace goes with --primer")
    if args.blend is not None or args.interpolate is not None or args.latent is not None:
        return _compose_autoencoder(args)
    if args.weights is not None:
        raise BadInputError("--weights goes with --blend")
    from gansynth.score import score_from_midi
    from gansynth.sequence.compose import compose
    from gansynth.sequence.export import load_sequence_model
    from gansynth.sequence.sampling import SamplingOptions

    # check everything a user can get wrong before any work or output
    temperature = 1.0 if args.temperature is None else args.temperature
    options = SamplingOptions(seconds=args.seconds, temperature=temperature,
                              top_k=args.top_k, top_p=args.top_p, polyphony=args.polyphony)
    outputs = _output_paths(args.output, args.num, MIDI_OUT_SUFFIXES)
    audio_outputs = _output_paths(args.render, args.num, AUDIO_OUT_SUFFIXES) if args.render else []
    primer = score_from_midi(args.primer) if args.primer else None
    if primer is not None and not primer.pitched_notes():
        raise BadInputError(f"{args.primer}: MIDI file has only drum notes; nothing to continue")
    loaded = load_sequence_model(args.model)
    synth = _render_synth(args)
    seed = checks.seed(args.seed) if args.seed is not None else secrets.randbelow(2**31)

    scores = compose(loaded, options, primer=primer, num=args.num, seed=seed, match_pace=not args.model_pace)
    _write_scores(args, scores, outputs, audio_outputs, synth, f"seed {seed}")
    return 0


def _render_synth(args: argparse.Namespace) -> Any:
    """The GAN synthesizer for --render (None without it); a bad --timbre, and a --bitrate that
    the --render file's format cannot take, are refused here, before any file is written."""
    if not args.render:
        if _bitrate(args) is not None:
            raise BadInputError("--bitrate goes with --render AUDIO.mp3")
        return None
    from gansynth.io import check_audio_settings
    from gansynth.synth import Synthesizer

    synth = Synthesizer.load(args.gan_model)
    synth.latent(args.timbre)
    check_audio_settings(args.render, synth.sample_rate, _bitrate(args))
    return synth


def _bitrate(args: argparse.Namespace) -> int | None:
    """--bitrate, None where the command has no such option (`add_bitrate_option`)."""
    return getattr(args, "bitrate", None)


def _write_scores(args: argparse.Namespace, scores: list[Any], outputs: list[Path],
                  audio_outputs: list[Path], synth: Any, note: str) -> None:
    from gansynth.commands.render import mp3_label
    from gansynth.score import score_to_midi
    from gansynth.sequence.compose import render_to_audio

    for path, score in zip(outputs, scores, strict=True):
        score_to_midi(score, path)
        print(f"wrote {path}: {len(score.notes)} notes, {score.end_s:.1f} s ({note})")
    if synth is not None:
        for score, audio_path in zip(scores, audio_outputs, strict=True):
            seconds = render_to_audio(synth, score, audio_path, timbre=args.timbre,
                                      bitrate_kbps=_bitrate(args),
                                      timbre_by=getattr(args, "timbre_by", "track"))
            label = mp3_label(audio_path, synth.sample_rate, _bitrate(args))
            print(f"wrote {audio_path}{label}: {seconds:.1f} s (timbre {args.timbre})")


def _accompany(args: argparse.Namespace) -> int:
    from gansynth.score import score_from_midi
    from gansynth.sequence.acc_export import load_accompaniment
    from gansynth.sequence.accompany import accompany

    instruments = None
    if args.instruments is not None:
        try:
            instruments = [int(p) for p in args.instruments.split(",") if p.strip()]
        except ValueError as err:
            raise BadInputError(f"--instruments {args.instruments!r}: not a comma-separated list "
                                "of GM programs (0-127)") from err
    outputs = _output_paths(args.output, 1, MIDI_OUT_SUFFIXES)
    audio_outputs = _output_paths(args.render, 1, AUDIO_OUT_SUFFIXES) if args.render else []
    melody = score_from_midi(args.melody)
    loaded = load_accompaniment(args.model)
    synth = _render_synth(args)
    result = accompany(melody, style=args.style, instruments=instruments, tracks=args.tracks,
                       melody_track=args.melody_track, seed=checks.seed(args.seed),
                       temperature=args.temperature, model=loaded)
    print(result.summary())
    _write_scores(args, [result.score], outputs, audio_outputs, synth, f"seed {args.seed}")
    return 0


def _compose_autoencoder(args: argparse.Namespace) -> int:
    import numpy as np

    from gansynth.score import score_from_midi
    from gansynth.sequence import embed
    from gansynth.sequence.ae_export import load_autoencoder

    temperature = checks.finite(0.0 if args.temperature is None else args.temperature,
                                "--temperature", low=0.0, high=100.0)
    if args.weights is not None and args.blend is None:
        raise BadInputError("--weights goes with --blend")
    if args.primer is None and args.num != 1:
        raise BadInputError("--num goes with the LSTM (no --blend, --interpolate or --latent)")
    if args.blend is not None and len(args.blend) < 2:
        raise BadInputError(f"--blend needs at least 2 MIDI files, got {len(args.blend)}")
    count = checks.whole(args.steps, "--steps", 2, embed.MAX_STEPS) if args.interpolate else 1
    outputs = _output_paths(args.output, count, MIDI_OUT_SUFFIXES)
    audio_outputs = _output_paths(args.render, count, AUDIO_OUT_SUFFIXES) if args.render else []
    latents = None
    if args.latent is not None and args.latent != "random":
        from gansynth.io import require_file

        path = require_file(args.latent, "embedding file (.npy)")
        try:
            latents = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise BadInputError(f"{path}: not a NumPy .npy file of embeddings ({err})") from err
    pieces = [score_from_midi(path) for path in (args.blend or args.interpolate or [])]
    loaded = load_autoencoder(args.autoencoder)
    synth = _render_synth(args)
    seed = checks.seed(args.seed) if args.seed is not None else secrets.randbelow(2**31)
    if args.blend is not None:
        scores = [embed.blend(loaded, pieces, args.weights, temperature=temperature, seed=seed)]
    elif args.interpolate is not None:
        scores = embed.interpolate(loaded, pieces[0], pieces[1], count, temperature=temperature, seed=seed)
    elif latents is not None:
        scores = [embed.decode(loaded, latents, temperature=temperature, seed=seed, what=str(args.latent))]
    else:
        scores = [embed.compose_random(loaded, args.segments, seed=seed, temperature=temperature)]
    _write_scores(args, scores, outputs, audio_outputs, synth, f"seed {seed}")
    return 0


def _encode(args: argparse.Namespace) -> int:
    import numpy as np

    from gansynth.io import atomic_path, check_output
    from gansynth.score import score_from_midi
    from gansynth.sequence import embed
    from gansynth.sequence.ae_export import load_autoencoder

    out = check_output(args.output, (".npy",))
    score = score_from_midi(args.midi)
    loaded = load_autoencoder(args.autoencoder)
    latents = embed.encode(loaded, score)
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        np.save(handle, latents, allow_pickle=False)
    roll = loaded.config.roll
    print(f"wrote {out}: {latents.shape[0]} segments of {roll.segment_beats} beats, "
          f"{latents.shape[1]} numbers each")
    return 0


def _reconstruct(args: argparse.Namespace) -> int:
    from gansynth.io import check_output
    from gansynth.score import score_from_midi, score_to_midi
    from gansynth.sequence import embed
    from gansynth.sequence.ae_export import load_autoencoder

    out = check_output(args.output, MIDI_OUT_SUFFIXES)
    temperature = checks.finite(args.temperature, "--temperature", low=0.0, high=100.0)
    seed = checks.seed(args.seed)
    score = score_from_midi(args.midi)
    loaded = load_autoencoder(args.autoencoder)
    result = embed.reconstruct(loaded, score, temperature=temperature, seed=seed)
    score_to_midi(result, out)
    print(f"wrote {out}: {len(result.notes)} notes ({len(score.pitched_notes())} in the input), "
          f"{result.end_s:.1f} s at {result.qpm:g} qpm")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    modes = [f for f, v in (("--primer", args.primer), ("--autoencoder", args.autoencoder),
                            ("--accompaniment", args.accompaniment)) if v is not None]
    if len(modes) > 1:
        raise BadInputError(f"{' and '.join(modes)} are different evaluations; give one")
    if args.autoencoder is not None:
        return _evaluate_autoencoder(args)
    if args.accompaniment is not None:
        return _evaluate_accompaniment(args)
    if args.primer is not None:
        return _evaluate_primer(args)
    from gansynth.sequence.corpus import build_token_corpus
    from gansynth.sequence.evaluation import evaluate_sequence_model
    from gansynth.sequence.export import load_sequence_model
    from gansynth.sequence.sampling import SamplingOptions

    SamplingOptions(seconds=args.seconds, temperature=args.temperature)  # validates both
    loaded = load_sequence_model(args.model)
    corpus = build_token_corpus(loaded.tokenizer, loaded.config.data, midi_dir=args.corpus)
    report = evaluate_sequence_model(loaded, corpus, samples=args.samples, seconds=args.seconds,
                                     temperature=args.temperature, seed=args.seed)
    print(report.format())
    return 0


def _evaluate_primer(args: argparse.Namespace) -> int:
    from gansynth.score import score_from_midi
    from gansynth.sequence.evaluation import primer_study
    from gansynth.sequence.export import load_sequence_model
    from gansynth.sequence.sampling import MAX_NUM, SamplingOptions

    SamplingOptions(seconds=args.seconds, temperature=args.temperature)  # validates both
    samples = checks.whole(args.samples, "--samples", 1, MAX_NUM)
    primer = score_from_midi(args.primer)
    primer.require_pitched()
    loaded = load_sequence_model(args.model)
    study = primer_study(loaded, primer, samples=samples, seconds=args.seconds,
                         temperature=args.temperature, seed=checks.seed(args.seed))
    print(study.format())
    return 0


def _evaluate_autoencoder(args: argparse.Namespace) -> int:
    from gansynth.sequence.ae_evaluation import evaluate_autoencoder
    from gansynth.sequence.ae_export import load_autoencoder
    from gansynth.sequence.ae_train import build_segment_corpus

    pairs = checks.whole(args.pairs, "--pairs", 1, 4096)
    steps = checks.whole(args.steps, "--steps", 2, 64)
    seed = checks.seed(args.seed)
    loaded = load_autoencoder(args.autoencoder)
    corpus = build_segment_corpus(loaded.config, midi_dir=args.corpus)
    if len(corpus.valid) == 0:
        raise BadInputError(f"{args.corpus or loaded.config.data.midi_dir}: no held-out segments with notes")
    report = evaluate_autoencoder(loaded, corpus.valid, corpus.valid_piece, pairs=pairs, steps=steps,
                                  seed=seed, group_of=corpus.valid_groups())
    print(f"corpus: {corpus.describe()}")
    print(report.format())
    return 0


def _evaluate_accompaniment(args: argparse.Namespace) -> int:
    from gansynth.sequence.acc_evaluation import format_report
    from gansynth.sequence.acc_export import load_accompaniment
    from gansynth.sequence.accompany import evaluate_accompaniment

    seed = checks.seed(args.seed)
    temperature = checks.finite(args.temperature, "--temperature", low=0.0, high=10.0)
    loaded = load_accompaniment(args.accompaniment)
    report = evaluate_accompaniment(loaded, args.corpus, seed=seed, temperature=temperature)
    print(format_report(report))
    return 0


def _build_music21(args: argparse.Namespace) -> int:
    from gansynth.sequence.music21_corpus import build_music21_corpus

    report = build_music21_corpus(args.out, sets=args.sets, limit=args.limit)
    print(f"{args.out}: {report.summary()}", file=sys.stdout)
    return 0
