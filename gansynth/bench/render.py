"""Rendering speed: generator GFLOP/s in fp32 and bf16 vs measured fp32 matmul peak; MIDI render vs FluidSynth.

Printed from one run on this machine: (1) the note generator's throughput in GFLOP/s (from the
model's `flops_per_note`) at each precision of `gansynth.synth.PRECISIONS` (fp32, bf16), the
bf16 / fp32 time ratio and the SNR of the bf16 notes against the fp32 notes of the same batch,
next to the GFLOP/s of a large fp32 `torch.matmul`; (2) the wall time of `render_score` on a
multi-track MIDI file (empty note cache, mix not normalized) at each precision, their ratio and
the SNR of the bf16 mix against the fp32 one, next to the `fluidsynth` command rendering the same
file with a GM SoundFont at the same sample rate, and each one's real-time factor (render time /
audio duration; below 1 = faster than real time).
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gansynth.bench import MAX_BATCH, MAX_REPEATS, best_time, check_whole_args, matmul_gflops, sync
from gansynth.errors import BadInputError

if TYPE_CHECKING:
    from gansynth.render import RenderResult
    from gansynth.score import Score
    from gansynth.synth import NoteModel

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


def _time_render(model: NoteModel, score: Score, batch: int, device: torch.device, precision: str,
                 repeats: int) -> tuple[float, RenderResult]:
    """Best wall time of rendering `score` from an empty note cache at `precision` (the mix not
    normalized, so that two precisions can be compared sample by sample), and the last result."""
    from gansynth.render import render_score
    from gansynth.synth import Synthesizer

    results: list[RenderResult] = []

    def render() -> None:
        synth = Synthesizer(model, batch_size=batch, device=device, precision=precision)
        results.append(render_score(synth, score, normalize=False, progress=False))

    return best_time(render, repeats=repeats, warmup=0), results[-1]


def _run(args: argparse.Namespace, midi: Path) -> None:
    import resource

    from gansynth.score import score_from_midi
    from gansynth.synth import PRECISIONS, generate_audio, snr_db

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

    # 1. generator throughput at each precision vs the fp32 matmul peak; bf16 notes vs fp32 notes
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(args.batch, model.latent_dim, generator=gen).to(device)
    pitch = torch.randint(model.pitch_min, model.pitch_max + 1, (args.batch,), generator=gen).to(device)
    notes: dict[str, torch.Tensor] = {}
    t_gen: dict[str, float] = {}
    for precision in PRECISIONS:
        def generate(precision: str = precision) -> None:
            notes[precision] = generate_audio(model, z, pitch, precision)  # (batch, note_length)
            sync(device)

        t_gen[precision] = best_time(generate, repeats=args.repeats)
    flops = model.flops_per_note()
    gflops = {p: flops * args.batch / t / 1e9 for p, t in t_gen.items()}
    ref, low = (notes[p].detach().cpu().numpy() for p in PRECISIONS)
    note_snr = snr_db(ref, low)
    worst_snr = min(snr_db(ref[i], low[i]) for i in range(args.batch))
    peak_gflops = matmul_gflops(args.matmul_size, device, args.repeats)

    # 2. whole-file render (cold cache each time) at each precision vs FluidSynth
    t_render: dict[str, float] = {}
    mixes: dict[str, np.ndarray] = {}
    for precision in PRECISIONS:
        t_render[precision], result = _time_render(model, score, args.batch, device, precision,
                                                   args.render_repeats)
        mixes[precision] = result.audio
    audio_s = result.audio.shape[0] / result.sample_rate
    mix_snr = snr_db(*(mixes[p] for p in PRECISIONS))
    t_fluid = fluidsynth_seconds(midi, Path(args.soundfont), model.sample_rate, args.render_repeats)

    fp32, bf16 = PRECISIONS
    report = result.report
    rows = [(f"generator {p}", f"{gflops[p]:10.2f} GFLOP/s  ({args.batch / t_gen[p]:.2f} notes/s, "
                               f"{flops / 1e9:.3f} GFLOP/note)") for p in PRECISIONS]
    rows += [
        (f"generator {bf16} / {fp32}", f"{t_gen[bf16] / t_gen[fp32]:10.2f}x the time"),
        (f"{bf16} notes vs {fp32}", f"{note_snr:10.2f} dB SNR  ({args.batch} notes; worst note "
                                     f"{worst_snr:.2f} dB)"),
        (f"fp32 matmul {args.matmul_size}x{args.matmul_size}", f"{peak_gflops:10.2f} GFLOP/s"),
        (f"generator {fp32} / matmul", f"{gflops[fp32] / peak_gflops:10.1%}"),
    ]
    rows += [(f"gansynth render {p}", f"{t_render[p]:10.2f} s  (real-time factor "
                                      f"{t_render[p] / audio_s:.3f})") for p in PRECISIONS]
    rows += [
        (f"render {bf16} / {fp32}", f"{t_render[bf16] / t_render[fp32]:10.2f}x the time  "
                                    f"(mix SNR {mix_snr:.2f} dB)"),
        ("fluidsynth render", f"{t_fluid:10.2f} s  (real-time factor {t_fluid / audio_s:.3f}, "
                              f"{Path(args.soundfont).name})"),
        (f"gansynth {fp32} / fluidsynth", f"{t_render[fp32] / t_fluid:10.2f}x the time"),
    ]
    print(f"render bench: model {'tone (test generator)' if args.tone else args.model or 'default'}, "
          f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch}, "
          f"precisions {', '.join(PRECISIONS)}")
    print(f"  MIDI {midi.name}: {len(score.tracks)} tracks, {report.notes_rendered} notes rendered, "
          f"{report.unique_pairs} unique (timbre, pitch) pairs, {audio_s:.1f} s of audio at "
          f"{result.sample_rate} Hz")
    rows.append(("peak memory (RSS)",
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:10.2f} GiB (whole process)"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)} : {value}")
