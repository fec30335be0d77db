"""The NSynth JSON/WAV reader: round trip of every field, each filter, and each bad-data case
(an error naming the file and the fix, or with skip_bad a counted skip)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gansynth.cli import main
from gansynth.config import DataConfig
from gansynth.data import FIXTURE_DIR
from gansynth.data.notes import read_split_csv, select_notes
from gansynth.data.nsynth import NSynthFolder, read_audio_file
from gansynth.errors import BadInputError


def _entries(folder: Path) -> dict[str, dict]:
    return json.loads((folder / "examples.json").read_text())


def test_reader_returns_every_field_in_file_order() -> None:
    source = NSynthFolder(FIXTURE_DIR)
    entries = _entries(FIXTURE_DIR)
    assert [m.note_str for m in source.notes] == list(entries)
    for meta in source.notes:
        assert meta.to_json() == entries[meta.note_str]
    audio = source.load_audio(3)
    raw, rate = sf.read(str(FIXTURE_DIR / "audio" / f"{source.notes[3].note_str}.wav"), dtype="float32")
    assert rate == 16000 and audio.dtype == np.float32 and audio.shape == (64000,)
    np.testing.assert_array_equal(audio, raw)


def test_each_filter_keeps_exactly_the_matching_notes() -> None:
    notes = NSynthFolder(FIXTURE_DIR).notes
    splits = read_split_csv(FIXTURE_DIR / "splits.csv")
    cases = [
        (DataConfig(path=str(FIXTURE_DIR), pitch_min=48, pitch_max=60), lambda m: 48 <= m.pitch <= 60),
        (DataConfig(path=str(FIXTURE_DIR), instrument_sources=("acoustic",)),
         lambda m: m.instrument_source_str == "acoustic"),
        (DataConfig(path=str(FIXTURE_DIR), families=("bass", "flute")),
         lambda m: m.instrument_family_str in ("bass", "flute")),
        (DataConfig(path=str(FIXTURE_DIR), velocities=(127,)), lambda m: m.velocity == 127),
        (DataConfig(path=str(FIXTURE_DIR), split="train"), lambda m: splits[m.note_str] == "train"),
        (DataConfig(path=str(FIXTURE_DIR), split="valid", velocities=(75,), pitch_max=60),
         lambda m: splits[m.note_str] == "valid" and m.velocity == 75 and m.pitch <= 60),
    ]
    for config, keep in cases:
        indices, report = select_notes(notes, config, FIXTURE_DIR)
        expected = [i for i, m in enumerate(notes) if keep(m)]
        assert indices == expected, config
        assert 0 < len(indices) < len(notes)
        assert report.kept == len(expected) and report.total == len(notes)
        assert sum(report.left_out.values()) == len(notes) - len(expected)


def test_split_from_an_explicit_csv(tmp_path: Path) -> None:
    notes = NSynthFolder(FIXTURE_DIR).notes
    csv_path = tmp_path / "gansynth_split.csv"
    csv_path.write_text("".join(f"{m.note_str},{'test' if m.pitch == 36 else 'train'}\n" for m in notes))
    config = DataConfig(path=str(FIXTURE_DIR), split="test", split_csv=str(csv_path))
    indices, _ = select_notes(notes, config, FIXTURE_DIR)
    assert {notes[i].pitch for i in indices} == {36} and len(indices) == 8
    with pytest.raises(BadInputError, match="no note is in split 'nope'"):
        select_notes(notes, dataclasses.replace(config, split="nope"), FIXTURE_DIR)
    csv_path.write_text(f"{notes[0].note_str},train\n{notes[0].note_str},test\n")
    with pytest.raises(BadInputError, match=r"gansynth_split.csv:2: id .* appears twice"):
        read_split_csv(csv_path)


def test_pitch_outside_the_configured_range_is_left_out_and_counted() -> None:
    notes = NSynthFolder(FIXTURE_DIR).notes
    indices, report = select_notes(notes, DataConfig(path=str(FIXTURE_DIR), pitch_min=40, pitch_max=84),
                                   FIXTURE_DIR)
    assert all(notes[i].pitch >= 40 for i in indices)
    assert report.left_out["pitch outside 40-84"] == sum(m.pitch < 40 for m in notes) == 8
    assert "left out 8 by pitch outside 40-84" in report.summary()


def test_pitch_that_is_not_a_midi_pitch_is_bad_data(fixture_copy: Path) -> None:
    entries = _entries(fixture_copy)
    first = next(iter(entries))
    entries[first]["pitch"] = 200
    (fixture_copy / "examples.json").write_text(json.dumps(entries))
    with pytest.raises(BadInputError, match=rf"examples.json: note '{first}' has pitch 200, not a MIDI pitch"):
        NSynthFolder(fixture_copy)
    source = NSynthFolder(fixture_copy, skip_bad=True)
    assert len(source) == len(entries) - 1 and source.report.counts["bad metadata"] == 1


def test_missing_audio_names_both_files_looked_for(fixture_copy: Path) -> None:
    victim = next((fixture_copy / "audio").glob("*.wav"))
    victim.unlink()
    with pytest.raises(BadInputError, match=rf"{victim.name} \(or {victim.stem}.flac\): audio file missing; restore it"):
        NSynthFolder(fixture_copy)
    source = NSynthFolder(fixture_copy, skip_bad=True)
    assert len(source) == 31 and source.report.counts == {"bad audio": 1}
    assert "skipped 1 bad notes (1 bad audio)" == source.report.summary()


def test_corrupt_wav(fixture_copy: Path) -> None:
    victim = sorted((fixture_copy / "audio").glob("*.wav"))[5]
    victim.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(BadInputError, match=rf"{victim.name}: not a readable audio file"):
        NSynthFolder(fixture_copy)
    assert NSynthFolder(fixture_copy, skip_bad=True).report.total == 1
    with pytest.raises(BadInputError, match="not a readable audio file"):
        read_audio_file(victim)


def test_wrong_sample_rate_is_resampled_or_refused_with_strict(fixture_copy: Path) -> None:
    name = "flute_acoustic_073-060-127.wav"
    original = read_audio_file(fixture_copy / "audio" / name)
    import librosa

    at_22k = librosa.resample(original, orig_sr=16000, target_sr=22050)
    sf.write(str(fixture_copy / "audio" / name), at_22k, 22050, subtype="PCM_16")
    source = NSynthFolder(fixture_copy)
    i = [m.note_str for m in source.notes].index(name[:-4])
    back = source.load_audio(i)
    assert back.shape == (64000,)
    # the resampled note is the same sound: spectra agree closely
    spec_a, spec_b = np.abs(np.fft.rfft(original[:48000])), np.abs(np.fft.rfft(back[:48000]))
    assert np.corrcoef(spec_a, spec_b)[0, 1] > 0.99
    with pytest.raises(BadInputError, match=rf"{name}: sample rate 22050 Hz, expected 16000 Hz \(strict mode\)"):
        NSynthFolder(fixture_copy, strict=True)


def test_wrong_length_is_cropped_or_padded(fixture_copy: Path) -> None:
    names = sorted(p.name for p in (fixture_copy / "audio").glob("*.wav"))[:2]
    originals = [read_audio_file(fixture_copy / "audio" / n) for n in names]
    sf.write(str(fixture_copy / "audio" / names[0]), originals[0][:40000], 16000, subtype="PCM_16")
    sf.write(str(fixture_copy / "audio" / names[1]), np.concatenate([originals[1], originals[1]]), 16000,
             subtype="PCM_16")
    short, long = read_audio_file(fixture_copy / "audio" / names[0]), read_audio_file(fixture_copy / "audio" / names[1])
    assert short.shape == long.shape == (64000,)
    np.testing.assert_array_equal(short[:40000], originals[0][:40000])
    assert not short[40000:].any()
    np.testing.assert_array_equal(long, originals[1])


def test_duplicate_ids(fixture_copy: Path) -> None:
    text = (fixture_copy / "examples.json").read_text().rstrip().rstrip("}")
    first_line = text.splitlines()[1].rstrip(",")
    (fixture_copy / "examples.json").write_text(text + "," + first_line + "\n}\n")
    note_id = json.loads("{" + first_line + "}").popitem()[0]
    with pytest.raises(BadInputError, match=rf"examples.json: note id '{note_id}' appears twice"):
        NSynthFolder(fixture_copy)
    source = NSynthFolder(fixture_copy, skip_bad=True)
    assert len(source) == 32 and source.report.counts == {"duplicate id": 1}


def test_malformed_json_names_the_file_and_line(fixture_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = fixture_copy / "examples.json"
    lines = path.read_text().splitlines()
    lines[3] = lines[3][:40]  # cut one entry short
    path.write_text("\n".join(lines))
    with pytest.raises(BadInputError, match=r"examples.json: not valid JSON \(line 4"):
        NSynthFolder(fixture_copy, skip_bad=True)
    assert main(["data", "info", str(fixture_copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gansynth: error: ") and "examples.json: not valid JSON" in err
    assert len(err.splitlines()) == 1


def test_missing_field_is_bad_metadata(fixture_copy: Path) -> None:
    entries = _entries(fixture_copy)
    del entries[next(iter(entries))]["instrument_family_str"]
    (fixture_copy / "examples.json").write_text(json.dumps(entries))
    with pytest.raises(BadInputError, match="lacks the field 'instrument_family_str'"):
        NSynthFolder(fixture_copy)


def test_cli_info_check_counts_bad_notes(fixture_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (fixture_copy / "audio" / "keyboard_acoustic_000-036-075.wav").unlink()
    assert main(["data", "info", str(fixture_copy), "--check", "--skip-bad", "--set", "data.families=[flute]"]) == 0
    out = capsys.readouterr().out
    assert "kept 8 of 31 notes" in out and "skipped 1 bad notes" in out and "families: flute 8" in out


def _write_lengths(folder: Path, samples: dict[str, int]) -> dict[str, Path]:
    """Rewrite the named fixture notes' WAVs with `samples` samples each (16 kHz, PCM 16)."""
    paths = {}
    for name, n in samples.items():
        path = folder / "audio" / f"{name}.wav"
        audio = read_audio_file(path)
        sf.write(str(path), np.resize(audio, n), 16000, subtype="PCM_16")
        paths[name] = path
    return paths


def test_short_and_long_audio_is_padded_or_cropped_and_counted(fixture_copy: Path) -> None:
    short, long, near = "flute_acoustic_073-060-127", "bass_electronic_033-048-075", "keyboard_acoustic_000-036-075"
    paths = _write_lengths(fixture_copy, {short: 28, long: 128000, near: 64000 - 100})
    assert paths[short].stat().st_size == 100  # the 100-byte WAV: 44-byte header + 28 samples
    source = NSynthFolder(fixture_copy)
    # 100 samples (6 ms) short is within the 10 ms tolerance: fitted without a word
    assert source.report.fitted == {short: "short audio", long: "long audio"}
    assert source.report.total == 0 and len(source) == 32
    assert source.report.summary() == "zero-padded 1 notes (short audio), cropped 1 notes (long audio)"
    assert any(f"{short}.wav: short audio: 28 samples at 16000 Hz (0.002 s), expected 4.000 s" in m
               for m in source.report.examples)
    i = [m.note_str for m in source.notes].index(short)
    audio = source.load_audio(i)  # padding and cropping stay the default behaviour
    assert audio.shape == (64000,) and audio[:28].any() and not audio[28:].any()
    assert len(source.report.fitted) == 2  # loading a counted note does not count it again


def test_short_and_long_audio_is_bad_data_with_strict(fixture_copy: Path) -> None:
    short, long = "flute_acoustic_073-060-127", "bass_electronic_033-048-075"
    _write_lengths(fixture_copy, {short: 28, long: 64000 + 200})  # 12.5 ms long: past the tolerance
    with pytest.raises(BadInputError, match=rf"{long}.wav: long audio: 64200 samples .* \(strict mode\)"):
        NSynthFolder(fixture_copy, strict=True)
    source = NSynthFolder(fixture_copy, strict=True, skip_bad=True)
    assert len(source) == 30 and source.report.counts == {"short audio": 1, "long audio": 1}
    assert not source.report.fitted
    with pytest.raises(BadInputError, match="short audio: 28 samples"):
        read_audio_file(fixture_copy / "audio" / f"{short}.wav", strict=True)


def test_cli_info_check_reports_short_audio(fixture_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_lengths(fixture_copy, {"flute_acoustic_073-060-127": 28})
    assert main(["data", "info", str(fixture_copy), "--check"]) == 0
    out = capsys.readouterr().out
    assert "no bad notes" not in out
    assert "kept 32 of 32 notes; zero-padded 1 notes (short audio)" in out
    assert "bad: " in out and "flute_acoustic_073-060-127.wav: short audio: 28 samples" in out
    assert main(["data", "info", str(fixture_copy), "--check", "--strict"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "short audio: 28 samples at 16000 Hz" in err and "(strict mode)" in err
