"""CLI of the sequence model: train-sequence, compose, evaluate-sequence, corpus build-music21.

Thin handlers over the library; heavy imports happen inside them so `gansynth --help` stays fast.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from gansynth import checks
from gansynth.errors import BadInputError

MIDI_OUT_SUFFIXES = (".mid", ".midi")
AUDIO_OUT_SUFFIXES = (".wav", ".flac")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the sequence subcommands to the `gansynth` parser."""
    from gansynth.sequence import DEFAULT_MODEL

    train = subparsers.add_parser("train-sequence", help="train the LSTM note-sequence model")
    train.add_argument("--config", default=None, help="recipe YAML, e.g. recipes/lstm_default.yaml")
    train.add_argument("--out", required=True, help="run folder (config, checkpoints, model.pt)")
    train.add_argument("--resume", default=None, metavar="CKPT",
                       help="Lightning checkpoint to continue from, e.g. RUN/checkpoints/last.ckpt")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                       help="config overrides, e.g. train.max_epochs=2 data.midi_dir=my_midi")
    train.set_defaults(handler=_train)

    compose = subparsers.add_parser(
        "compose", help="write a MIDI score with the LSTM (new, continuing a primer, or a blend)")
    source = compose.add_mutually_exclusive_group()
    source.add_argument("--primer", default=None, metavar="MIDI",
                        help="continue this piece (the output starts with it)")
    source.add_argument("--blend", nargs=2, default=None, metavar=("A", "B"),
                        help="generate from the mean LSTM state of two pieces")
    compose.add_argument("-o", "--output", required=True, help="output MIDI file (.mid); with "
                         "--num N > 1, NAME_0.mid ... NAME_{N-1}.mid")
    compose.add_argument("--model", default=str(DEFAULT_MODEL),
                         help="exported sequence model (default: the shipped lstm_default.pt)")
    compose.add_argument("--seconds", type=float, default=30.0, help="length to generate (default 30)")
    compose.add_argument("--num", type=int, default=1, help="pieces to generate, as one batch")
    compose.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    compose.add_argument("--temperature", type=float, default=1.0)
    compose.add_argument("--top-k", type=int, default=0, help="keep the k likeliest tokens (0: all)")
    compose.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1: all)")
    compose.add_argument("--polyphony", type=int, default=8,
                         help="most notes sounding at once (0: no limit; default 8)")
    compose.add_argument("--render", default=None, metavar="AUDIO",
                         help="also play the score through the GAN to this .wav / .flac")
    compose.add_argument("--timbre", type=int, default=0, help="GAN timbre seed for --render")
    compose.add_argument("--gan-model", default=None,
                         help="exported GAN note model for --render (default: the shipped one)")
    compose.set_defaults(handler=_compose)

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
    evaluate.set_defaults(handler=_evaluate)

    corpus = subparsers.add_parser("corpus", help="build MIDI corpora for the sequence model")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="WHAT", required=True)
    m21 = corpus_sub.add_parser("build-music21",
                                help="convert music21's bundled Bach chorales and Essen folk songs to MIDI")
    m21.add_argument("--out", required=True, help="output folder, e.g. data/corpus/music21")
    m21.add_argument("--sets", nargs="+", default=["bach", "essen"], choices=["bach", "essen"])
    m21.add_argument("--limit", type=int, default=0, help="at most N source files per set (0: all)")
    m21.set_defaults(handler=_build_music21)


def _train(args: argparse.Namespace) -> int:
    from gansynth.config import SequenceExperimentConfig, load_config
    from gansynth.sequence.corpus import TokenCorpus
    from gansynth.sequence.train import train_sequence

    def show(corpus: TokenCorpus) -> None:
        print(f"corpus: {corpus.describe()}", flush=True)

    config = load_config(SequenceExperimentConfig, args.config, args.overrides)
    result = train_sequence(config, args.out, resume=args.resume, progress=not args.quiet,
                            on_corpus=show)
    m = result.metrics
    print(f"validation perplexity: model {m['val_perplexity']:.3f}, unigram "
          f"{m['unigram_perplexity']:.3f}, bigram {m['bigram_perplexity']:.3f}")
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
    from gansynth.score import score_from_midi, score_to_midi
    from gansynth.sequence.compose import compose, render_to_audio
    from gansynth.sequence.export import load_sequence_model
    from gansynth.sequence.sampling import SamplingOptions

    # check everything a user can get wrong before any work or output
    options = SamplingOptions(seconds=args.seconds, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, polyphony=args.polyphony)
    outputs = _output_paths(args.output, args.num, MIDI_OUT_SUFFIXES)
    audio_outputs = _output_paths(args.render, args.num, AUDIO_OUT_SUFFIXES) if args.render else []
    sources = args.blend or ([args.primer] if args.primer else [])
    pieces = [score_from_midi(path) for path in sources]
    for path, piece in zip(sources, pieces, strict=True):
        if not piece.pitched_notes():
            raise BadInputError(f"{path}: MIDI file has only drum notes; nothing to continue or blend")
    loaded = load_sequence_model(args.model)
    synth = None
    if args.render:
        from gansynth.synth import Synthesizer

        synth = Synthesizer.load(args.gan_model)
        synth.latent(args.timbre)  # a bad --timbre is refused before any file is written
    seed = checks.seed(args.seed) if args.seed is not None else secrets.randbelow(2**31)

    scores = compose(loaded, options, primer=pieces[0] if args.primer else None,
                     blend=(pieces[0], pieces[1]) if args.blend else None, num=args.num, seed=seed)
    for path, score in zip(outputs, scores, strict=True):
        score_to_midi(score, path)
        print(f"wrote {path}: {len(score.notes)} notes, {score.end_s:.1f} s (seed {seed})")
    if synth is not None:
        for score, audio_path in zip(scores, audio_outputs, strict=True):
            seconds = render_to_audio(synth, score, audio_path, timbre=args.timbre)
            print(f"wrote {audio_path}: {seconds:.1f} s (timbre {args.timbre})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
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


def _build_music21(args: argparse.Namespace) -> int:
    from gansynth.sequence.music21_corpus import build_music21_corpus

    report = build_music21_corpus(args.out, sets=args.sets, limit=args.limit)
    print(f"{args.out}: {report.summary()}", file=sys.stdout)
    return 0
