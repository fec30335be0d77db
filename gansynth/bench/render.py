"""Rendering speed: generator GFLOP/s vs measured fp32 matmul peak; MIDI render vs FluidSynth.

Printed from one run on this machine: (1) the note generator's throughput in GFLOP/s (from the
model's `flops_per_note`) next to the GFLOP/s of a large fp32 `torch.matmul`, and their ratio;
(2) the wall time of `render_score` on a multi-track MIDI file (empty note cache) next to the
`fluidsynth` command rendering the same file with a GM SoundFont at the same sample rate, their
ratio, and each one's real-time factor (render time / audio duration; below 1 = faster than real time).
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from gansynth.bench import MAX_BATCH, MAX_REPEATS, best_time, check_whole_args
from gansynth.errors import BadInputError

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MIDI = REPO / "data" / "midi" / "demo.mid"
MAX_MINUTES = 600.0  # a repeated score of at most ten hours
DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="exported model file (default: shipped model)")
    parser.add_argument("--tone", action="store_true",
                        help="use the analytic test tone generator instead of a GAN (plumbing check)")
    parser.add_argument("--midi", default=str(DEFAULT_MIDI), help="multi-track MIDI file to render")
    parser.add_argument("--minutes", type=float, default=None,
                        help="repeat the MIDI file's notes to fill this many minutes (e.g. 5)")
    parser.add_argument("--soundfont", default=str(DEFAULT_SOUNDFONT), help="SoundFont for FluidSynth")
    parser.add_argument("--batch", type=int, default=8, help="notes per generator call (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    parser.add_argument("--render-repeats", type=int, default=1,
                        help="timed repeats of the whole-file renders (default 1)")
    parser.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul")
    parser.add_argument("--device", default="cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(n: int, device: torch.device, repeats: int) -> float:
    """Measured fp32 GFLOP/s of an (n, n) @ (n, n) matmul (2 n^3 operations)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)

    def step() -> None:
        torch.matmul(a, b)
        _sync(device)

    return 2 * n**3 / best_time(step, repeats=repeats) / 1e9


def fluidsynth_seconds(midi: Path, soundfont: Path, sample_rate: int, repeats: int) -> float:
    """Best wall time of `fluidsynth -ni -F out.wav -r RATE SOUNDFONT MIDI`."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise BadInputError("fluidsynth is not installed (Debian: apt-get install fluidsynth)")
    if not soundfont.is_file():
        raise BadInputError(f"{soundfont}: SoundFont not found (Debian: fluid-soundfont-gm)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fluidsynth.wav"
        cmd = [exe, "-ni", "-q", "-F", str(out), "-r", str(sample_rate), str(soundfont), str(midi)]

        def step() -> None:
            subprocess.run(cmd, check=True, capture_output=True)

        return best_time(step, repeats=repeats, warmup=0)


def repeat_midi(midi: Path, minutes: float, out: Path) -> Path:
    """Write `out`: the notes of `midi` repeated back to back until `minutes` are filled."""
    from gansynth.score import Note, notes_to_midi, score_from_midi

    score = score_from_midi(midi, sustain=True)
    period = score.end_s + 0.5
    repeats = max(1, math.ceil(minutes * 60 / period))
    notes = [Note(n.pitch, n.velocity, n.start_s + k * period, n.end_s + k * period, n.track,
                  n.program, n.is_drum) for k in range(repeats) for n in score.notes]
    notes_to_midi(notes, out, track_names={t.index: t.name for t in score.tracks})
    return out


def run(args: argparse.Namespace) -> None:
    from gansynth import checks
    check_whole_args(args, {"batch": (1, MAX_BATCH), "repeats": (1, MAX_REPEATS),
                            "render_repeats": (1, MAX_REPEATS), "matmul_size": (16, 16384)})
    if args.minutes is not None:
        checks.finite(args.minutes, "--minutes", high=MAX_MINUTES, above=0.0)
    checks.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        midi = Path(args.midi)
        if args.minutes is not None:
            midi = repeat_midi(midi, args.minutes, Path(tmp) / f"{midi.stem}_{args.minutes:g}min.mid")
        _run(args, midi)


def _run(args: argparse.Namespace, midi: Path) -> None:
    import resource

    from gansynth.render import render_score
    from gansynth.score import score_from_midi
    from gansynth.synth import NoteModel, Synthesizer

    device = torch.device(args.device)
    score = score_from_midi(midi)
    score.require_pitched()
    model: NoteModel
    if args.tone:
        from gansynth.testing import ToneModel

        model = ToneModel()
    else:
        from gansynth.checkpoint import load_model

        model = load_model(args.model, device=args.device)

    # 1. generator throughput vs matmul peak
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(args.batch, model.latent_dim, generator=gen).to(device)
    pitch = torch.randint(model.pitch_min, model.pitch_max + 1, (args.batch,), generator=gen).to(device)

    def generate() -> None:
        with torch.no_grad():
            model.generate(z, pitch)
        _sync(device)

    t_gen = best_time(generate, repeats=args.repeats)
    gen_gflops = model.flops_per_note() * args.batch / t_gen / 1e9
    peak_gflops = matmul_gflops(args.matmul_size, device, args.repeats)

    # 2. whole-file render (cold cache each time) vs FluidSynth
    result_holder = []

    def render() -> None:
        synth = Synthesizer(model, batch_size=args.batch, device=device)
        result_holder.append(render_score(synth, score, progress=False))

    t_render = best_time(render, repeats=args.render_repeats, warmup=0)
    result = result_holder[-1]
    audio_s = result.audio.shape[0] / result.sample_rate
    t_fluid = fluidsynth_seconds(midi, Path(args.soundfont), model.sample_rate, args.render_repeats)

    report = result.report
    rows = [
        ("generator", f"{gen_gflops:10.2f} GFLOP/s  ({args.batch / t_gen:.2f} notes/s, "
                      f"{model.flops_per_note() / 1e9:.3f} GFLOP/note)"),
        (f"fp32 matmul {args.matmul_size}x{args.matmul_size}", f"{peak_gflops:10.2f} GFLOP/s"),
        ("generator / matmul", f"{gen_gflops / peak_gflops:10.1%}"),
        ("gansynth render", f"{t_render:10.2f} s  (real-time factor {t_render / audio_s:.3f})"),
        ("fluidsynth render", f"{t_fluid:10.2f} s  (real-time factor {t_fluid / audio_s:.3f}, "
                              f"{Path(args.soundfont).name})"),
        ("gansynth / fluidsynth", f"{t_render / t_fluid:10.2f}x the time"),
    ]
    print(f"render bench: model {'tone (test generator)' if args.tone else args.model or 'default'}, "
          f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch}")
    print(f"  MIDI {midi.name}: {len(score.tracks)} tracks, {report.notes_rendered} notes rendered, "
          f"{report.unique_pairs} unique (timbre, pitch) pairs, {audio_s:.1f} s of audio at "
          f"{result.sample_rate} Hz")
    rows.append(("peak memory (RSS)",
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:10.2f} GiB (whole process)"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)} : {value}")
