"""WAV and FLAC note folders: a FLAC (or mixed) folder reads to the same samples as the WAV one, the
cache and `data info --check` work on it, a note with both files is refused, and `build-gm
--audio-format flac` writes FLAC that reads back as the WAV build's samples, resuming only in its
own format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gansynth.cli import main
from gansynth.config import SpectralConfig
from gansynth.data import FIXTURE_DIR
from gansynth.data.cache import build_cache, open_cache
from gansynth.data.gm import build_gm, to_pcm16, write_note_audio
from gansynth.data.nsynth import NSynthFolder, read_audio_file
from gansynth.errors import BadInputError
from tests.data.conftest import small_settings

SPECTRAL = SpectralConfig(representation="if", layout="base")
FLUTE = "flute_acoustic_073-060-127"


def _to_flac(folder: Path, note_strs: list[str]) -> None:
    """Replace the named notes' WAVs in `folder` by FLACs of the same 16-bit samples."""
    for note_str in note_strs:
        wav = folder / "audio" / f"{note_str}.wav"
        pcm, rate = sf.read(str(wav), dtype="int16")
        sf.write(str(wav.with_suffix(".flac")), pcm, rate, format="FLAC", subtype="PCM_16")
        wav.unlink()


def _note_strs(folder: Path) -> list[str]:
    return list(json.loads((folder / "examples.json").read_text()))


@pytest.fixture
def flac_copy(fixture_copy: Path) -> Path:
    """The committed fixture with every note as FLAC instead of WAV."""
    _to_flac(fixture_copy, _note_strs(fixture_copy))
    return fixture_copy


def test_a_flac_folder_reads_the_same_samples_as_the_wav_folder(flac_copy: Path) -> None:
    assert not list((flac_copy / "audio").glob("*.wav"))
    wav, flac = NSynthFolder(FIXTURE_DIR), NSynthFolder(flac_copy)
    assert [m.note_str for m in flac.notes] == [m.note_str for m in wav.notes]
    assert flac.report.total == 0 and not flac.report.fitted
    assert flac.audio_path(flac.notes[0]).suffix == ".flac"
    for i in range(len(wav)):
        np.testing.assert_array_equal(flac.load_audio(i), wav.load_audio(i))
    assert flac.fingerprint() == wav.fingerprint()  # same examples.json: a cache of either fits both
    # 16-bit PCM in both: the floats are exactly int16 / 32768
    pcm, _ = sf.read(str(flac_copy / "audio" / f"{FLUTE}.flac"), dtype="int16")
    np.testing.assert_array_equal(read_audio_file(flac_copy / "audio" / f"{FLUTE}.flac"),
                                  pcm.astype(np.float32) / 32768)


def test_a_folder_may_mix_wav_and_flac(fixture_copy: Path) -> None:
    names = _note_strs(fixture_copy)
    _to_flac(fixture_copy, names[::2])
    mixed, wav = NSynthFolder(fixture_copy), NSynthFolder(FIXTURE_DIR)
    assert [mixed.audio_path(m).suffix for m in mixed.notes[:4]] == [".flac", ".wav", ".flac", ".wav"]
    for i in range(len(wav)):
        np.testing.assert_array_equal(mixed.load_audio(i), wav.load_audio(i))


def test_a_note_with_both_a_wav_and_a_flac_is_refused(fixture_copy: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    wav = fixture_copy / "audio" / f"{FLUTE}.wav"
    pcm, rate = sf.read(str(wav), dtype="int16")
    sf.write(str(wav.with_suffix(".flac")), pcm, rate, format="FLAC", subtype="PCM_16")
    message = rf"{FLUTE}.wav and {FLUTE}.flac: two audio files for one note; delete one of them"
    with pytest.raises(BadInputError, match=message):
        NSynthFolder(fixture_copy)
    source = NSynthFolder(fixture_copy, skip_bad=True)
    assert len(source) == 31 and source.report.counts == {"bad audio": 1}
    unchecked = NSynthFolder(fixture_copy, check_audio=False)  # as the cache command opens it
    i = [m.note_str for m in unchecked.notes].index(FLUTE)
    with pytest.raises(BadInputError, match=message):
        unchecked.load_audio(i)
    assert main(["data", "info", str(fixture_copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(wav) in err and f"{FLUTE}.flac" in err


def test_cache_and_check_work_on_flac(flac_copy: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    indices = [0, 9, 30]
    wav_folder, _ = build_cache(NSynthFolder(FIXTURE_DIR), indices, SPECTRAL, tmp_path / "wav",
                                progress=False)
    flac_source = NSynthFolder(flac_copy)
    flac_folder, report = build_cache(flac_source, indices, SPECTRAL, tmp_path / "flac", progress=False)
    assert report.total == 0
    np.testing.assert_array_equal(np.load(flac_folder / "features.npy"), np.load(wav_folder / "features.npy"))
    cache = open_cache(tmp_path / "flac", SPECTRAL, flac_source)
    assert set(cache.rows) == {flac_source.notes[i].note_str for i in indices}

    assert main(["data", "info", str(flac_copy), "--check"]) == 0
    out = capsys.readouterr().out
    assert "kept 32 of 32 notes" in out and "no bad notes" in out
    assert main(["data", "cache", str(flac_copy), "--out", str(tmp_path / "cli"), "--set",
                 "spectral.representation=if", "spectral.layout=base", "data.families=[flute]"]) == 0
    assert "8 notes cached" in capsys.readouterr().out


def test_builder_samples_are_the_same_in_wav_and_flac(tmp_path: Path) -> None:
    # libsndfile rounds float -> PCM_16 differently for WAV and FLAC; the builder rounds itself
    audio = np.random.default_rng(0).uniform(-1, 1, 16000)
    audio[:4] = [1.0, -1.0, 0.7 / 32768, -0.7 / 32768]
    pcm = to_pcm16(audio)
    assert pcm.dtype == np.int16 and list(pcm[:4]) == [32767, -32768, 1, -1]
    for ext in ("wav", "flac"):
        write_note_audio(tmp_path / f"note.{ext}", audio)
        back, rate = sf.read(str(tmp_path / f"note.{ext}"), dtype="int16")
        info = sf.info(str(tmp_path / f"note.{ext}"))
        assert (info.format, info.subtype, rate) == (ext.upper(), "PCM_16", 16000)
        np.testing.assert_array_equal(back, pcm)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.flac", "note.wav"]  # no temporary files


def test_build_gm_flac_reads_back_as_the_wav_build(gm_small: Path, timgm: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "flac"
    argv = ["data", "build-gm", "--soundfont", str(timgm), "--out", str(out), "--programs", "40,73",
            "--pitches", "48,60", "--velocities", "127", "--audio-format", "flac"]
    assert main(argv) == 0
    assert "4 notes (4 rendered" in capsys.readouterr().out
    files = sorted((out / "audio").iterdir())
    assert [p.suffix for p in files] == [".flac"] * 4
    assert json.loads((out / "build.json").read_text())["settings"]["audio_format"] == "flac"
    for path in files:
        info = sf.info(str(path))
        assert (info.format, info.subtype, info.samplerate, info.frames) == ("FLAC", "PCM_16", 16000, 64000)
        twin = gm_small / "audio" / f"{path.stem}.wav"  # the WAV build of the same note
        np.testing.assert_array_equal(sf.read(str(path), dtype="int16")[0], sf.read(str(twin), dtype="int16")[0])
        assert path.stat().st_size < 0.7 * twin.stat().st_size
    source = NSynthFolder(out)
    assert len(source) == 4 and source.report.total == 0

    # a rerun resumes in the build's format, and is refused in the other one
    files[0].unlink()
    result = build_gm(small_settings(programs=(40, 73), pitches=(48, 60), velocities=(127,),
                                     audio_format="flac"), out, progress=False)
    assert (result.rendered, result.existing) == (1, 3) and files[0].is_file()
    assert main(argv[:-1] + ["wav"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "was built with audio_format 'flac'" in err
    assert not list((out / "audio").glob("*.wav"))


def test_a_wav_build_resumes_as_wav_only(gm_copy: Path) -> None:
    settings = small_settings()
    # build.json of a build made before audio_format existed: it wrote WAV
    manifest = json.loads((gm_copy / "build.json").read_text())
    del manifest["settings"]["audio_format"]
    (gm_copy / "build.json").write_text(json.dumps(manifest))
    result = build_gm(settings, gm_copy, progress=False)
    assert result.rendered == 0 and result.existing == len(result.notes)
    with pytest.raises(BadInputError, match="was built with audio_format 'wav'.* resume it with audio_format 'wav'"):
        build_gm(small_settings(audio_format="flac"), gm_copy, progress=False)
    # without build.json, notes already there in the other format are refused before any work
    (gm_copy / "build.json").unlink()
    with pytest.raises(BadInputError, match=r"\.wav: this note exists as wav, and this build writes flac"):
        build_gm(small_settings(audio_format="flac"), gm_copy, progress=False)
    assert not list((gm_copy / "audio").glob("*.flac")) and not (gm_copy / "build.json").exists()


def test_bad_audio_format_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BadInputError, match="audio_format 'mp3': use one of 'wav', 'flac'"):
        small_settings(audio_format="mp3")
    out = tmp_path / "gm"
    assert main(["data", "build-gm", "--soundfont", str(tmp_path / "x.sf2"), "--out", str(out),
                 "--audio-format", "mp3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "argument --audio-format: invalid choice: 'mp3'" in err and not out.exists()
    assert main(["data", "build-gm", "--help"]) == 0  # the help text formats (a bare % would not)
    assert "--audio-format {wav,flac}" in capsys.readouterr().out

