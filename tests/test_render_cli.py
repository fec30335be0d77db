"""`gansynth note | interpolate | render` through the CLI: files written, their headers and levels,
and bad input rejected with one line, exit status 2 and no output file."""

from __future__ import annotations

import math
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from symusic import Note as SymNote
from symusic import Score as SymScore
from symusic import Tempo, Track

from gansynth.bench.render import DEFAULT_SOUNDFONT
from gansynth.cli import main, run_cli
from gansynth.score import Note, notes_to_midi
from gansynth.testing import ToneModel
from tests.conftest import require_system
from tests.test_score import corrupt_midi_bytes

PEAK = 10 ** (-1 / 20)
REPO = Path(__file__).resolve().parent.parent


def song(tmp_path: Path) -> Path:
    notes = [Note(60, 100, 0.0, 0.5, 0, 0), Note(64, 90, 0.5, 1.0, 0, 0),
             Note(36, 110, 0.0, 1.5, 1, 33), Note(96, 80, 1.0, 1.25, 2, 73),  # 96: folded to 84
             Note(38, 100, 0.25, 0.3, 3, 0, True)]
    path = tmp_path / "song.mid"
    notes_to_midi(notes, path, track_names={0: "piano", 1: "bass", 2: "flute", 3: "drums"})
    return path


def only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_render_wav_header_length_and_peak(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    midi = song(tmp_path)
    out = tmp_path / "song.wav"
    assert run_cli(["render", str(midi), "-o", str(out), "--quiet"], ToneModel(note_length=16000)) == 0
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", 16000, 1)
    assert info.frames == round(1.5 * 16000) + round(0.2 * 16000)  # last end + default release
    audio, _ = sf.read(str(out), dtype="float32")
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= PEAK + 1 / 32768
    assert np.max(np.abs(audio)) > PEAK - 2 / 32768
    text = capsys.readouterr().out
    assert "rendered 4/5 notes" in text and "1 notes outside" in text and "1 drum notes skipped" in text
    assert only_files(tmp_path) == ["song.mid", "song.wav"]


def test_render_flac_48k_with_timbres(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    midi = song(tmp_path)
    out = tmp_path / "song.flac"
    args = ["render", str(midi), "-o", str(out), "--quiet", "--sample-rate", "48000",
            "--timbre", "bass=7", "--timbre", "0=3"]
    assert run_cli(args, ToneModel(note_length=16000)) == 0
    info = sf.info(str(out))
    assert (info.format, info.samplerate) == ("FLAC", 48000)
    assert info.frames == math.ceil((round(1.5 * 16000) + 3200) * 3)
    text = capsys.readouterr().out
    assert "track 0: seed 3, track 1: seed 7, track 2: seed 2" in text


def test_note_and_interpolate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = ToneModel(note_length=16000)
    c4 = tmp_path / "c4.wav"
    assert run_cli(["note", "--pitch", "60", "--seed", "7", "-o", str(c4)], model) == 0
    audio, rate = sf.read(str(c4), dtype="float32")
    assert rate == 16000 and audio.shape == (16000,) and np.max(np.abs(audio)) <= PEAK
    short = tmp_path / "short.flac"
    assert run_cli(["note", "--pitch", "60", "--duration", "0.25", "--velocity", "50",
                    "--sample-rate", "44100", "-o", str(short)], model) == 0
    assert sf.info(str(short)).frames == math.ceil((4000 + 3200) * 44100 / 16000)
    interp = tmp_path / "interp.wav"
    assert run_cli(["interpolate", "--pitch", "60", "--seeds", "1", "2", "--steps", "4",
                    "-o", str(interp)], model) == 0
    steps, _ = sf.read(str(interp), dtype="float32")
    assert steps.shape == (4 * 16000,)
    assert not np.allclose(steps[:16000], steps[-16000:], atol=1e-3)  # the timbre moved
    assert "wrote" in capsys.readouterr().out


def test_bad_timbre_and_pitch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    midi = song(tmp_path)
    model = ToneModel(note_length=16000)
    out = tmp_path / "x.wav"
    assert run_cli(["render", str(midi), "-o", str(out), "--timbre", "bass:7"], model) == 2
    assert "expected TRACK=SEED" in capsys.readouterr().err
    assert run_cli(["render", str(midi), "-o", str(out), "--timbre", "organ=1"], model) == 2
    assert "has no track 'organ'" in capsys.readouterr().err
    assert run_cli(["note", "--pitch", "100", "-o", str(out)], model) == 2
    assert "pitch 100 is outside the model's range 24..84" in capsys.readouterr().err
    assert not out.exists()


def _drums_only(path: Path) -> Path:
    score = SymScore(480)
    score.tempos.append(Tempo(0, qpm=120.0))
    drums = Track(name="drums", program=0, is_drum=True)
    drums.notes.append(SymNote(0, 120, 36, 100))
    score.tracks.append(drums)
    score.dump_midi(str(path))
    return path


def _empty(path: Path) -> Path:
    score = SymScore(480)
    score.tracks.append(Track(name="silent", program=0))
    score.dump_midi(str(path))
    return path


@pytest.mark.parametrize(("name", "make", "message"), [
    ("corrupt.mid", lambda p: p.write_bytes(corrupt_midi_bytes()), "not a valid MIDI file"),
    ("empty.mid", _empty, "MIDI file has no notes"),
    ("zero.mid", lambda p: p.write_bytes(b""), "not a valid MIDI file"),
    ("drums.mid", _drums_only, "only drum notes"),
    ("missing.mid", lambda p: None, "MIDI file not found"),
])
def test_bad_midi_through_main(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                               make: object, message: str) -> None:
    midi = tmp_path / name
    make(midi)  # type: ignore[operator]
    out = tmp_path / "out.wav"
    assert main(["render", str(midi), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gansynth: error: ")
    assert str(midi) in err and message in err
    assert not out.exists()
    assert only_files(tmp_path) == ([name] if midi.exists() else [])


def test_bad_output_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    midi = song(tmp_path)
    assert main(["render", str(midi), "-o", str(tmp_path / "song.ogg")]) == 2
    assert "song.ogg: audio output must end in .wav or .flac or .mp3" in capsys.readouterr().err
    assert main(["note", "--pitch", "60", "-o", str(tmp_path / "no" / "c4.wav")]) == 2
    assert "output folder" in capsys.readouterr().err
    assert only_files(tmp_path) == ["song.mid"]


class _RunsCode:
    """A pickle payload that would create a file if it were ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_bad_model_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gansynth.checkpoint", reason="model export/load not written yet")
    text_model = tmp_path / "notes.txt"
    text_model.write_text("not a model")
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "gansynth-model", "x": _RunsCode(marker)}))
    for model in (text_model, evil, tmp_path / "missing.pt"):
        out = tmp_path / "c4.wav"
        assert main(["note", "--pitch", "60", "--model", str(model), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(model) in err
        assert not out.exists()
    assert not marker.exists()


def test_shipped_demo_midi_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = REPO / "data" / "midi" / "demo.mid"
    out = tmp_path / "demo.wav"
    assert run_cli(["render", str(demo), "-o", str(out), "--quiet"], ToneModel(note_length=16000)) == 0
    info = sf.info(str(out))
    assert 20.0 <= info.duration <= 30.0
    text = capsys.readouterr().out
    assert "drum notes skipped" in text and "moved by octaves" in text


def test_bench_render_runs_fluidsynth_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    require_system(shutil.which("fluidsynth") is not None and DEFAULT_SOUNDFONT.is_file(),
                   f"the fluidsynth command with {DEFAULT_SOUNDFONT}")
    assert main(["bench", "render", "--tone", "--repeats", "1", "--matmul-size", "128"]) == 0
    text = capsys.readouterr().out
    for label in ("generator fp32", "generator bf16", "generator bf16 / fp32", "bf16 notes vs fp32",
                  "fp32 matmul 128x128", "generator fp32 / matmul", "gansynth render fp32",
                  "gansynth render bf16", "render bf16 / fp32", "fluidsynth render",
                  "gansynth fp32 / fluidsynth"):
        assert f"  {label} " in text
    assert "real-time factor" in text and "demo.mid: 4 tracks, 125 notes rendered" in text
    # the tone generator has no network: bf16 autocast leaves its notes and the mix unchanged
    assert "inf dB SNR" in text and "mix SNR inf dB" in text
