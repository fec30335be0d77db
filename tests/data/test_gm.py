"""The GM builder: NSynth format compliance, pitch correctness (pyin), silent notes, determinism
across worker counts, resuming, the program mapping and the CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gansynth.cli import main
from gansynth.commands.data import parse_int_list
from gansynth.config import NSYNTH_FAMILIES, NSYNTH_SOURCES
from gansynth.data import FIXTURE_DIR
from gansynth.data.gm import SAMPLE_RATE, build_gm, split_of
from gansynth.data.gm_programs import GM_PROGRAMS
from gansynth.data.nsynth import read_wav
from gansynth.errors import BadInputError
from gansynth.evaluate import measured_pitch
from tests.data.conftest import (
    SMALL_PITCHES,
    SMALL_PROGRAMS,
    SMALL_VELOCITIES,
    small_settings,
)

NSYNTH_FIELDS = {"note", "note_str", "pitch", "velocity", "instrument", "instrument_str",
                 "instrument_family", "instrument_family_str", "instrument_source",
                 "instrument_source_str", "qualities", "qualities_str", "sample_rate"}


def test_examples_json_and_wavs_follow_the_nsynth_format(gm_small: Path) -> None:
    examples = json.loads((gm_small / "examples.json").read_text())
    audible = [p for p in SMALL_PITCHES if p != 127]
    assert len(examples) == len(SMALL_PROGRAMS) * len(audible) * len(SMALL_VELOCITIES)
    ids = set()
    for key, entry in examples.items():
        assert set(entry) == NSYNTH_FIELDS, key
        assert entry["note_str"] == key
        match = re.fullmatch(r"([a-z_]+)_(acoustic|electronic|synthetic)_(\d{3})-(\d{3})-(\d{3})", key)
        assert match, key
        family, source, program, pitch, velocity = match.groups()
        gm = GM_PROGRAMS[int(program)]
        assert entry["instrument"] == int(program) and entry["instrument_str"] == gm.instrument_str
        assert entry["pitch"] == int(pitch) and entry["velocity"] == int(velocity)
        assert entry["instrument_family_str"] == family == gm.family
        assert entry["instrument_family"] == NSYNTH_FAMILIES.index(family)
        assert entry["instrument_source_str"] == source == gm.source
        assert entry["instrument_source"] == NSYNTH_SOURCES.index(source)
        assert entry["qualities"] == [0] * 10 and entry["qualities_str"] == []
        assert entry["sample_rate"] == 16000
        assert isinstance(entry["note"], int) and entry["note"] not in ids
        ids.add(entry["note"])
        info = sf.info(str(gm_small / "audio" / f"{key}.wav"))
        assert (info.format, info.subtype, info.samplerate, info.channels, info.frames) == (
            "WAV", "PCM_16", 16000, 1, 64000)
    wavs = {p.stem for p in (gm_small / "audio").glob("*.wav")}
    assert wavs == set(examples)
    assert not list(gm_small.rglob("*.tmp*")), "temporary files left behind"


def test_silent_notes_are_skipped_and_counted(gm_small: Path) -> None:
    manifest = json.loads((gm_small / "build.json").read_text())
    assert manifest["complete"] is True
    expected = {f"{GM_PROGRAMS[p].instrument_str}-127-{v:03d}" for p in SMALL_PROGRAMS for v in SMALL_VELOCITIES}
    assert set(manifest["silent"]) == expected
    examples = json.loads((gm_small / "examples.json").read_text())
    assert not expected & set(examples)


def test_notes_are_held_three_seconds_then_released(gm_small: Path) -> None:
    audio = read_wav(gm_small / "audio" / "flute_acoustic_073-060-127.wav")
    rms = [float(np.sqrt(np.mean(audio[s:s + 1600] ** 2))) for s in range(0, 64000, 1600)]  # 0.1 s frames
    sustain, tail = np.mean(rms[20:29]), np.mean(rms[36:40])
    assert sustain > 0.01
    assert tail < 0.3 * sustain  # released after 3 s: the last half second is much quieter


def test_pyin_pitch_matches_label_for_pitched_notes(gm_small: Path) -> None:
    examples = json.loads((gm_small / "examples.json").read_text())
    pitched = [e for e in examples.values() if GM_PROGRAMS[e["instrument"]].pitched]
    assert len(pitched) >= 24
    hits = 0
    for entry in pitched:
        measured = measured_pitch(read_wav(gm_small / "audio" / f"{entry['note_str']}.wav"), SAMPLE_RATE)
        if measured is not None:  # median pyin f0 over 0.1-1.1 s
            hits += abs(measured - entry["pitch"]) < 0.5
    assert hits / len(pitched) >= 0.95, f"{hits} of {len(pitched)} notes at their labelled pitch"


def test_build_is_deterministic_across_worker_counts(gm_small: Path, tmp_path: Path) -> None:
    out = tmp_path / "parallel"
    result = build_gm(small_settings(), out, workers=2, progress=False)
    assert result.rendered == len(result.notes)
    for path in sorted(gm_small.rglob("*")):
        if path.is_file():
            twin = out / path.relative_to(gm_small)
            assert twin.read_bytes() == path.read_bytes(), path.name


def test_rerun_resumes_and_refuses_other_settings(gm_copy: Path) -> None:
    victim = gm_copy / "audio" / "string_acoustic_040-060-127.wav"
    original = victim.read_bytes()
    victim.unlink()
    (gm_copy / "examples.json").unlink()
    result = build_gm(small_settings(), gm_copy, workers=1, progress=False)
    assert result.rendered == 1
    assert result.existing == len(result.notes) - 1
    assert len(result.silent) == len(SMALL_PROGRAMS) * len(SMALL_VELOCITIES)  # remembered from the complete build, not rendered again
    assert victim.read_bytes() == original
    assert (gm_copy / "examples.json").is_file()
    with pytest.raises(BadInputError, match="other settings"):
        build_gm(small_settings(velocities=(100,)), gm_copy, workers=1, progress=False)


def test_splits_csv_keeps_each_instrument_in_one_split(gm_small: Path) -> None:
    rows = (gm_small / "splits.csv").read_text().splitlines()
    assert rows[0] == "id,split"
    examples = json.loads((gm_small / "examples.json").read_text())
    splits = dict(row.split(",") for row in rows[1:])
    assert set(splits) == set(examples)
    by_instrument: dict[str, set[str]] = {}
    for note_str, split in splits.items():
        by_instrument.setdefault(examples[note_str]["instrument_str"], set()).add(split)
    assert all(len(s) == 1 for s in by_instrument.values())
    counts = {name: sum(split_of(g.instrument_str) == name for g in GM_PROGRAMS) for name in ("train", "valid", "test")}
    assert counts["train"] > 80 and counts["valid"] > 5 and counts["test"] > 5  # ~80/10/10 of 128


def test_program_mapping_covers_general_midi() -> None:
    assert [g.program for g in GM_PROGRAMS] == list(range(128))
    assert len({g.name for g in GM_PROGRAMS}) == 128
    assert {g.family for g in GM_PROGRAMS} == set(NSYNTH_FAMILIES)
    assert {g.source for g in GM_PROGRAMS} == set(NSYNTH_SOURCES)
    assert (GM_PROGRAMS[0].family, GM_PROGRAMS[0].source) == ("keyboard", "acoustic")
    assert (GM_PROGRAMS[33].family, GM_PROGRAMS[33].source) == ("bass", "electronic")
    assert (GM_PROGRAMS[81].family, GM_PROGRAMS[81].source) == ("synth_lead", "synthetic")
    assert not GM_PROGRAMS[127].pitched and GM_PROGRAMS[73].pitched


def test_parse_int_list() -> None:
    assert parse_int_list("24-27,40, 30", "pitches", 0, 127) == (24, 25, 26, 27, 30, 40)
    with pytest.raises(BadInputError, match="outside 0..127"):
        parse_int_list("100-130", "pitches", 0, 127)
    with pytest.raises(BadInputError, match="not a number"):
        parse_int_list("a-b", "programs", 0, 127)


def test_fixture_was_made_by_the_builder() -> None:
    manifest = json.loads((FIXTURE_DIR / "build.json").read_text())
    assert manifest["complete"] and manifest["settings"]["soundfont"] == "TimGM6mb.sf2"
    size = sum(p.stat().st_size for p in FIXTURE_DIR.rglob("*") if p.is_file())
    assert size < 5_000_000
    examples = json.loads((FIXTURE_DIR / "examples.json").read_text())
    assert len(examples) == manifest["notes"] >= 16
    assert all(24 <= e["pitch"] <= 84 for e in examples.values())


def test_cli_build_gm(timgm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main(["data", "build-gm", "--soundfont", str(timgm), "--out", str(out), "--programs", "11",
                 "--pitches", "60,61", "--velocities", "100", "--workers", "1"])
    assert code == 0
    assert "2 notes" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "audio").iterdir()) == [
        "mallet_acoustic_011-060-100.wav", "mallet_acoustic_011-061-100.wav"]
    code = main(["data", "build-gm", "--soundfont", str(tmp_path / "none.sf2"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "none.sf2: SoundFont not found" in err and len(err.strip().splitlines()) == 1
    shutil.rmtree(out)
