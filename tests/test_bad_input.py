"""Issue 11's rendering and file faults, each reproduced: velocity that is heard, outputs checked
before the work, OS errors as one line, and errors that name what a wrong file is."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gansynth.checkpoint import DEFAULT_MODEL_PATH, load_model
from gansynth.cli import run_cli
from gansynth.errors import BadInputError
from gansynth.render import render_score
from gansynth.score import Note, notes_to_midi, score_from_notes
from gansynth.synth import LEVEL_DBFS, Synthesizer, note_envelope, peak_dbfs, velocity_to_gain
from gansynth.testing import ToneModel

REPO = Path(__file__).resolve().parent.parent
LSTM = REPO / "data" / "models" / "lstm_default.pt"


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gansynth"), lines
    return lines[0]


# -- velocity and output level ---------------------------------------------------------------


def test_velocity_is_heard_in_note_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peaks = {}
    for velocity in (127, 100, 64):
        out = tmp_path / f"v{velocity}.wav"
        assert run_cli(["note", "--pitch", "60", "--seed", "7", "--velocity", str(velocity),
                        "-o", str(out)]) == 0
        audio, _ = sf.read(str(out), dtype="float32")
        peaks[velocity] = peak_dbfs(audio)
    assert peaks[127] <= LEVEL_DBFS + 0.01
    for velocity in (100, 64):  # each file is quieter by exactly the velocity curve
        expected = 20 * np.log10(float(velocity_to_gain(velocity)))
        assert peaks[velocity] - peaks[127] == pytest.approx(expected, abs=0.05)
    assert "lowered" not in capsys.readouterr().out


def test_output_gain_puts_the_loudest_probe_note_at_the_level() -> None:
    model = ToneModel(note_length=16000, output_gain=None)  # no calibration of its own: measured
    synth = Synthesizer(model)
    assert synth.output_gain > 1  # ToneModel peaks near 0.45: raised to the level
    # the calibrated notes, one by one: every probe note (7 pitches x seeds 0..3) at velocity 127
    pitches = np.unique(np.round(np.linspace(model.pitch_min, model.pitch_max, 7))).astype(int)
    peaks = [peak_dbfs(synth.note(int(p), seed=s, velocity=127)) for p in pitches for s in range(4)]
    assert max(peaks) == pytest.approx(LEVEL_DBFS, abs=1e-3)
    assert min(peaks) < LEVEL_DBFS - 0.1  # the others are quieter, not raised to the level


def test_the_shipped_models_stored_calibration_is_what_it_measures() -> None:
    model = load_model()
    stored = model.meta["output_gain"]
    del model.meta["output_gain"]  # measured afresh from the probe notes
    assert Synthesizer(model).output_gain == pytest.approx(stored, rel=1e-4)


def test_velocity_out_of_range_is_refused() -> None:
    synth = Synthesizer(ToneModel(note_length=16000))
    for bad in (0, -5, 128):
        with pytest.raises(BadInputError, match=f"velocity must lie in 1..127, got {bad}"):
            synth.note(60, velocity=bad)


def test_envelope_peak_matches_shape_note() -> None:
    synth = Synthesizer(ToneModel(note_length=16000))
    raw = synth.generate([("seed", 0, 0)], [synth.latent(0)], [60])[0]
    shaped = synth.shape_note(raw, 127, synth.max_hold)
    env = note_envelope(synth.max_hold, synth.attack, synth.release)
    np.testing.assert_allclose(shaped, raw[: env.shape[0]] * env * np.float32(synth.output_gain), atol=1e-7)


# -- long notes ------------------------------------------------------------------------------


def test_notes_longer_than_the_model_note_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    score = score_from_notes([Note(60, 100, 0.0, 12.0), Note(64, 100, 12.0, 12.5)])
    result = render_score(Synthesizer(ToneModel(note_length=16000)), score, progress=False)
    assert result.report.notes_shortened == 1
    assert any("1 notes held longer than the model's 0.80 s note" in line
               for line in result.report.summary())
    assert "held longer than the model's" in caplog.text


def test_a_timbre_for_a_drum_or_missing_track_is_refused(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    midi = tmp_path / "song.mid"
    notes_to_midi([Note(60, 100, 0.0, 0.5, 0, 0), Note(38, 100, 0.0, 0.3, 1, 0, True)], midi,
                  track_names={0: "piano", 1: "drums"})
    out = tmp_path / "song.wav"
    model = ToneModel(note_length=16000)
    assert run_cli(["render", str(midi), "-o", str(out), "--timbre", "drums=3"], model) == 2
    assert "a drum track" in one_error_line(capsys) and not out.exists()


# -- outputs checked before the work; OS errors as one line -------------------------------------


@pytest.mark.parametrize("argv", [
    ["note", "--pitch", "60", "-o", "{dir}"],
    ["note", "--pitch", "60", "-o", "/proc/gansynth-test.wav"],
    ["note", "--pitch", "60", "-o", "{file}/below.wav"],
    ["spectrogram", "{wav}", "-o", "{dir}"],
    ["spectrogram", "{wav}", "-o", "{tmp}/x.mp3"],
    ["compose", "--seconds", "2", "-o", "{dir}"],
    ["compose", "--seconds", "2", "-o", "/proc/gansynth-test.mid"],
    ["evaluate", "--real", "{tmp}", "--figure", "{tmp}/x.mp3"],
])
def test_unwritable_outputs_are_refused_before_work(argv: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "a_folder.wav"
    folder.mkdir()
    (tmp_path / "plain.txt").write_text("x")
    wav = tmp_path / "in.wav"
    sf.write(str(wav), np.zeros(1600, dtype=np.float32), 16000)
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.format(dir=folder, file=tmp_path / "plain.txt", wav=wav, tmp=tmp_path) for a in argv]
    assert run_cli(args, ToneModel(note_length=16000)) == 2
    line = one_error_line(capsys)
    assert "must end in" in line or "folder" in line or "cannot write" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not any(folder.iterdir())


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the WAV write fail with a real OS error (EFBIG), as a full disk does."""
    out = tmp_path / "note.wav"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.run([sys.executable, "-m", "gansynth", "note", "--pitch", "60", "-o", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=limit)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert str(out) in lines[0] and "could not be written" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_compose_refuses_a_bad_render_timbre_before_writing(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    midi, wav = tmp_path / "c.mid", tmp_path / "c.wav"
    assert run_cli(["compose", "--seconds", "2", "-o", str(midi), "--render", str(wav),
                    "--timbre", str(10**20)]) == 2
    assert "timbre seed must lie in 0..9223372036854775807" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


# -- errors that name what a wrong file is ---------------------------------------------------


def test_wrong_files_are_named_for_what_they_are(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "n.wav")
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert run_cli(["note", "--pitch", "60", "--model", str(noise), "-o", out]) == 2
    line = one_error_line(capsys)
    assert "not a file written by torch.save" in line and "weights_only" not in line
    assert run_cli(["note", "--pitch", "60", "--model", str(LSTM), "-o", out]) == 2
    assert "sequence (LSTM) model file (for compose), not a gansynth model file" in one_error_line(capsys)
    assert run_cli(["compose", "--model", str(DEFAULT_MODEL_PATH), "-o", str(tmp_path / "c.mid")]) == 2
    assert "GAN model file" in one_error_line(capsys)
    assert run_cli(["note", "--pitch", "60", "--model", str(tmp_path), "-o", out]) == 2
    assert "is a folder, not a gansynth model file" in one_error_line(capsys)
    assert run_cli(["render", str(tmp_path), "-o", out]) == 2
    assert "is a folder" in one_error_line(capsys)
    assert list(p.name for p in tmp_path.iterdir()) == ["noise.pt"]


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["note", "--pitch", "sixty", "-o", "x.wav"]) == 2
    line = one_error_line(capsys)
    assert "invalid int value: 'sixty'" in line and "gansynth note --help" in line


@pytest.mark.parametrize("device, message", [("foo", "not a torch device"),
                                             ("cuda", "no usable CUDA GPU")])
def test_devices_are_checked(device: str, message: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "n.wav"
    assert run_cli(["note", "--pitch", "60", "--device", device, "-o", str(out)],
                   ToneModel(note_length=16000)) == 2
    assert message in one_error_line(capsys) and not out.exists()
