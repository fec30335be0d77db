"""Every numeric option of every command, given NaN, inf, a negative number, zero and a huge
number: the command either succeeds with a valid output, or exits 2 with one line on stderr,
no traceback, and no output or temporary file left behind.

The options are read from the parser itself, so a new numeric option is fuzzed as soon as it
exists; a command without a cheap base invocation below fails the coverage test."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf

from gansynth.cli import build_parser, run_cli
from gansynth.data import FIXTURE_DIR
from gansynth.testing import ToneModel
from tests.conftest import require_system

REPO = Path(__file__).resolve().parent.parent
DEMO = str(REPO / "data" / "midi" / "demo.mid")
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
VALUES = ("nan", "inf", "-1", "0", "100000000000000000000")


def _audio_ok(path: Path) -> bool:
    info = sf.info(str(path))
    return info.frames > 0 and info.samplerate >= 8000


def _midi_ok(path: Path) -> bool:
    from gansynth.score import score_from_midi

    return len(score_from_midi(path).notes) > 0


def _json_ok(path: Path) -> bool:
    return isinstance(json.loads(path.read_text()), dict)


# command -> (argv before the fuzzed option, given the work folder; the output it writes and the
# check of a valid output, or None for commands that only print; whether it renders with a model)
BASES: dict[str, tuple[Callable[[Path], list[str]], str | None, Callable[[Path], bool] | None]] = {
    "note": (lambda d: ["note", "--pitch", "60", "-o", str(d / "out.wav")], "out.wav", _audio_ok),
    "interpolate": (lambda d: ["interpolate", "--pitch", "60", "--seeds", "1", "2", "--steps", "2",
                               "-o", str(d / "out.wav")], "out.wav", _audio_ok),
    "render": (lambda d: ["render", DEMO, "--quiet", "-o", str(d / "out.wav")], "out.wav", _audio_ok),
    "evaluate": (lambda d: ["evaluate", "--real", str(FIXTURE_DIR), "--notes", "2", "--quiet",
                            "--json", str(d / "out.json")], "out.json", _json_ok),
    "evaluate-timbres": (lambda d: ["evaluate-timbres", "--programs", "0", "--ranges", "60-66",
                                    "--family-search", "1", "--json", str(d / "out.json")],
                         "out.json", _json_ok),
    "train-classifier": (lambda d: ["train-classifier", str(FIXTURE_DIR), "-o", str(d / "c.pt"),
                                    "--quiet"], None, None),
    "compose": (lambda d: ["compose", "--seconds", "2", "-o", str(d / "out.mid")], "out.mid", _midi_ok),
    "reconstruct": (lambda d: ["reconstruct", DEMO, "-o", str(d / "out.mid")], "out.mid", _midi_ok),
    "accompany": (lambda d: ["accompany", str(REPO / "data" / "midi" / "ode_to_joy.mid"),
                             "-o", str(d / "out.mid")], "out.mid", _midi_ok),
    "evaluate-sequence": (lambda d: ["evaluate-sequence", "--corpus", str(REPO / "data" / "midi"),
                                     "--samples", "2", "--seconds", "2"], None, None),
    "corpus build-music21": (lambda d: ["corpus", "build-music21", "--out", str(d / "corpus"),
                                        "--sets", "bach"], None, None),
    "data build-gm": (lambda d: ["data", "build-gm", "--soundfont", str(TIMGM), "--out",
                                 str(d / "gm"), "--programs", "0", "--pitches", "60",
                                 "--velocities", "100"], None, None),
    "bench spectral": (lambda d: ["bench", "spectral", "--batch", "2", "--repeats", "1",
                                  "--layout", "base"], None, None),
    "bench render": (lambda d: ["bench", "render", "--tone", "--repeats", "1", "--matmul-size", "128"],
                     None, None),
    "bench data": (lambda d: ["bench", "data", "--notes", "4", "--repeats", "1"], None, None),
    "bench train": (lambda d: ["bench", "train", "--config", str(REPO / "recipes" / "debug.yaml"),
                               "--stages", "0", "--steps", "1", "--warmup", "0"], None, None),
}
RENDERING = {"note", "interpolate", "render", "evaluate-timbres"}
# valid values that mean "all of it": converting all of a music21 set takes minutes, and the
# refusals of this option are still fuzzed
SLOW_VALID = {("corpus build-music21", "--limit", "0"),
              ("corpus build-music21", "--limit", "100000000000000000000")}


def numeric_options() -> list[tuple[str, str, int]]:
    """(command, option, nargs) of every int or float option of the CLI."""
    found: list[tuple[str, str, int]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
            elif action.type in (int, float) and action.option_strings:
                nargs = action.nargs if isinstance(action.nargs, int) else 1
                found.append((" ".join(prefix), action.option_strings[-1], nargs))

    walk(build_parser(), [])
    return found


CASES = [(cmd, opt, nargs, value) for cmd, opt, nargs in numeric_options() for value in VALUES
         if (cmd, opt, value) not in SLOW_VALID]


def test_every_command_with_numeric_options_has_a_base() -> None:
    assert {cmd for cmd, _, _ in numeric_options()} <= set(BASES)
    assert len(CASES) >= 250


@pytest.mark.slow
@pytest.mark.parametrize("command, option, nargs, value", CASES,
                         ids=[f"{c}{o}={v}" for c, o, _, v in CASES])
def test_numeric_option_is_used_or_refused_in_one_line(
        command: str, option: str, nargs: int, value: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    if command == "data build-gm":
        require_system(TIMGM.is_file(), f"the TimGM6mb SoundFont ({TIMGM})")
    make_argv, output, valid = BASES[command]
    work = tmp_path / "work"
    work.mkdir()
    argv = [*make_argv(work), option, *([value] * nargs)]
    model = ToneModel(note_length=16000) if command in RENDERING else None
    code = run_cli(argv, model)
    err = capsys.readouterr().err.strip()
    leftovers = [p.name for p in work.rglob(".*") if ".tmp" in p.name or p.suffix == ".probe"]
    assert not leftovers, f"{argv}: temporary files left: {leftovers}"
    if code == 0:
        if output is not None:
            assert valid is not None and valid(work / output), f"{argv}: exit 0 but no valid output"
        return
    assert code == 2, f"{argv}: exit {code}, stderr {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gansynth"), f"{argv}: stderr {err!r}"
    assert "Traceback" not in err
    if output is not None:
        assert not (work / output).exists(), f"{argv}: refused, but {output} was written"
