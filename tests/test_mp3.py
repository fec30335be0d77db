"""MP3 output: `gansynth.io.write_audio` through soundfile's MPEG layer III (LAME), the
`--bitrate` option of the audio-writing commands, and `render_to_audio`'s pass-through."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gansynth.cli import run_cli
from gansynth.errors import BadInputError
from gansynth.io import (
    AUDIO_FORMATS,
    DEFAULT_MP3_KBPS,
    MP3_VERSIONS,
    check_audio_settings,
    write_audio,
)
from gansynth.score import Note, score_from_notes
from gansynth.testing import ToneModel

FRAME = 576  # samples per MPEG-2 layer III frame (16 kHz)
LAME_SCALE = 0.95  # LAME scales its input by 0.95 at constant bitrates up to 160 kbps


def tone(seconds: float, sample_rate: int = 16000) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1320 * t)).astype(np.float32)


def kbps_of(path: Path, seconds: float) -> float:
    return os.path.getsize(path) * 8 / seconds / 1000


def test_mp3_round_trip_keeps_length_and_signal(tmp_path: Path) -> None:
    audio = tone(3.0)
    out = tmp_path / "a.mp3"
    write_audio(out, audio, 16000)
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("MP3", "MPEG_LAYER_III", 16000, 1)
    back, rate = sf.read(str(out), dtype="float32")
    assert rate == 16000 and abs(back.shape[0] - audio.shape[0]) <= 2 * FRAME
    n = min(back.shape[0], audio.shape[0])
    back, ref = back[:n], audio[:n]
    gain = float(np.dot(back, ref) / np.dot(ref, ref))
    assert abs(gain - LAME_SCALE) < 0.02  # in time (no delay) and at LAME's level
    snr = 10 * np.log10(np.sum((gain * ref) ** 2) / np.sum((back - gain * ref) ** 2))
    assert snr > 30, snr
    assert np.corrcoef(back, ref)[0, 1] > 0.99
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp3"]  # no temporary file left


@pytest.mark.parametrize(("sample_rate", "kbps"), [(16000, 8), (16000, 32), (16000, 64), (16000, 160),
                                                   (44100, 32), (44100, 128), (48000, 320), (8000, 24)])
def test_mp3_bitrate_is_the_file_rate(tmp_path: Path, sample_rate: int, kbps: int) -> None:
    """10 s at `kbps` take kbps * 10 s (within 15%; a header frame and the encoder delay add ~1-2%)."""
    out = tmp_path / "b.mp3"
    write_audio(out, tone(10.0, sample_rate), sample_rate, bitrate_kbps=kbps)
    assert kbps_of(out, 10.0) == pytest.approx(kbps, rel=0.15)
    assert sf.info(str(out)).samplerate == sample_rate


def test_mp3_default_and_bitrates_differ(tmp_path: Path) -> None:
    audio = tone(10.0)
    sizes = {}
    for kbps in (None, 16, 96):
        out = tmp_path / f"{kbps}.mp3"
        write_audio(out, audio, 16000, bitrate_kbps=kbps)
        sizes[kbps] = kbps_of(out, 10.0)
    assert sizes[None] == pytest.approx(DEFAULT_MP3_KBPS, rel=0.05)
    assert sizes[16] < sizes[None] < sizes[96]


@pytest.mark.parametrize(("name", "sample_rate", "kbps", "message"), [
    ("x.mp3", 16000, 100, "x.mp3: 100 kbps is not an MPEG-2 layer III bitrate at 16000 Hz; use one of "
                          "8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160"),
    ("x.mp3", 16000, 320, "x.mp3: MP3 bitrate in kbps at 16000 Hz must lie in 8..160, got 320"),
    ("x.mp3", 16000, 0, "must lie in 8..160, got 0"),
    ("x.mp3", 44100, 16, "x.mp3: MP3 bitrate in kbps at 44100 Hz must lie in 32..320, got 16"),
    ("x.mp3", 16000, 64.5, "must be a whole number, got 64.5"),
    ("x.mp3", 17000, None, "x.mp3: MP3 cannot hold 17000 Hz audio; use a sample rate of 8000, 11025"),
    ("x.wav", 16000, 64, "x.wav: a bitrate (64 kbps) is for .mp3 output; WAV is lossless"),
    ("x.flac", 16000, 64, "FLAC is lossless"),
    ("x.ogg", 16000, None, "x.ogg: unsupported audio extension '.ogg'; use .wav, .flac, .mp3"),
])
def test_bad_mp3_settings_are_refused_and_nothing_is_written(
        tmp_path: Path, name: str, sample_rate: int, kbps: int | None, message: str) -> None:
    with pytest.raises(BadInputError) as err:
        write_audio(tmp_path / name, tone(0.5, sample_rate), sample_rate, bitrate_kbps=kbps)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_refused_write_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "keep.mp3"
    write_audio(out, tone(1.0), 16000, bitrate_kbps=48)
    before = out.read_bytes()
    with pytest.raises(BadInputError):
        write_audio(out, tone(2.0), 16000, bitrate_kbps=50)
    with pytest.raises(BadInputError, match="NaN"):
        write_audio(out, np.full(1600, np.nan, dtype=np.float32), 16000)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["keep.mp3"]


def test_stereo_mp3_and_too_many_channels(tmp_path: Path) -> None:
    stereo = np.stack([tone(1.0), 0.5 * tone(1.0)], axis=1)
    write_audio(tmp_path / "s.mp3", stereo, 16000)
    assert sf.info(str(tmp_path / "s.mp3")).channels == 2
    with pytest.raises(BadInputError, match="MP3 holds 1 or 2 channels, not 3"):
        write_audio(tmp_path / "t.mp3", np.zeros((1600, 3), dtype=np.float32), 16000)


def test_every_mp3_rate_takes_the_default() -> None:
    from gansynth.commands.sequence import AUDIO_OUT_SUFFIXES

    assert all(DEFAULT_MP3_KBPS in bitrates for _, bitrates, _ in MP3_VERSIONS.values())
    assert AUDIO_OUT_SUFFIXES == tuple(AUDIO_FORMATS)  # compose --render takes what write_audio writes
    assert check_audio_settings("a.mp3", 16000) == DEFAULT_MP3_KBPS
    assert check_audio_settings("a.WAV", 16000) is None


def test_note_writes_mp3_with_bitrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = ToneModel(note_length=32000)
    out = tmp_path / "c4.mp3"
    assert run_cli(["note", "--pitch", "60", "--seed", "7", "--bitrate", "96", "-o", str(out)], model) == 0
    assert f"wrote {out} (MP3, 96 kbps): 2.00 s at 16000 Hz" in capsys.readouterr().out
    info = sf.info(str(out))
    assert (info.format, info.samplerate, info.frames) == ("MP3", 16000, 32000)
    assert kbps_of(out, 2.0) == pytest.approx(96, rel=0.15)
    audio, _ = sf.read(str(out), dtype="float32")
    assert 0.1 < np.abs(audio).max() < 1.0  # a note, not silence


def test_render_mp3_at_44k_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gansynth.score import notes_to_midi

    midi = tmp_path / "song.mid"
    notes_to_midi([Note(60, 100, 0.0, 0.5), Note(67, 90, 0.5, 1.0)], midi)
    model = ToneModel(note_length=16000)
    out = tmp_path / "song.mp3"
    assert run_cli(["render", str(midi), "-o", str(out), "--quiet", "--sample-rate", "44100",
                    "--bitrate", "128"], model) == 0
    assert f"wrote {out} (MP3, 128 kbps)" in capsys.readouterr().out
    assert sf.info(str(out)).samplerate == 44100
    for args, message in (
            (["--bitrate", "144", "--sample-rate", "44100"],
             "144 kbps is not an MPEG-1 layer III bitrate at 44100 Hz"),
            (["--sample-rate", "96000"], "MP3 cannot hold 96000 Hz audio")):
        bad = tmp_path / "bad.mp3"
        assert run_cli(["render", str(midi), "-o", str(bad), "--quiet", *args], model) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("gansynth: error: ") and message in err and "\n" not in err, err
        assert not bad.exists()
    wav = tmp_path / "c4.wav"
    assert run_cli(["note", "--pitch", "60", "--bitrate", "64", "-o", str(wav)], model) == 2
    assert "WAV is lossless and takes none" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid", "song.mp3"]


def test_bitrate_help_names_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["note", "--help"]) == 0
    assert f"default {DEFAULT_MP3_KBPS})" in capsys.readouterr().out.replace("\n", " ")


def test_render_to_audio_passes_the_bitrate(tmp_path: Path) -> None:
    """The Python side of `compose --render x.mp3 --bitrate B`."""
    from gansynth.sequence.compose import render_to_audio
    from gansynth.synth import Synthesizer

    score = score_from_notes([Note(60, 100, 0.0, 4.0), Note(64, 90, 4.0, 8.0)])
    synth = Synthesizer(ToneModel())
    rates = {}
    for kbps in (32, 128):
        out = tmp_path / f"{kbps}.mp3"
        seconds = render_to_audio(synth, score, out, timbre=1, bitrate_kbps=kbps)
        rates[kbps] = kbps_of(out, seconds)
    assert rates[32] == pytest.approx(32, rel=0.15) and rates[128] == pytest.approx(128, rel=0.15)
    with pytest.raises(BadInputError, match="lossless"):
        render_to_audio(synth, score, tmp_path / "x.flac", bitrate_kbps=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["128.mp3", "32.mp3"]


def test_compose_render_mp3_and_bitrate_without_render(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`compose --render x.mp3 --bitrate B` with the shipped LSTM and GAN models; --bitrate without
    --render is refused before anything is written."""
    from gansynth.checkpoint import DEFAULT_MODEL_PATH
    from gansynth.sequence import DEFAULT_MODEL

    if not (DEFAULT_MODEL.is_file() and DEFAULT_MODEL_PATH.is_file()):
        pytest.skip("the shipped LSTM or GAN model is missing")
    midi, mp3 = tmp_path / "x.mid", tmp_path / "x.mp3"
    assert run_cli(["compose", "--seconds", "2", "--seed", "0", "-o", str(midi), "--bitrate", "48"]) == 2
    assert "--bitrate goes with --render" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert run_cli(["compose", "--seconds", "2", "--seed", "0", "-o", str(midi), "--render", str(mp3),
                    "--bitrate", "48"]) == 0
    assert f"wrote {mp3} (MP3, 48 kbps)" in capsys.readouterr().out
    info = sf.info(str(mp3))
    assert info.format == "MP3" and kbps_of(mp3, info.duration) == pytest.approx(48, rel=0.15)
