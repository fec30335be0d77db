"""The GM builder: NSynth format compliance, pitch correctness (pyin), silent notes, determinism
across worker counts, resuming, the program mapping and the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
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
from gansynth.data.nsynth import read_audio_file
from gansynth.errors import BadInputError
from gansynth.evaluate import measured_pitch
from tests.conftest import require_system
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
    audio = read_audio_file(gm_small / "audio" / "flute_acoustic_073-060-127.wav")
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
        measured = measured_pitch(read_audio_file(gm_small / "audio" / f"{entry['note_str']}.wav"), SAMPLE_RATE)
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
    code = main(["data", "build-gm", "--soundfont", str(tmp_path / "none.sf2"), "--out", str(out)])
    assert code == 2 and not out.exists()  # a failed run leaves no out/audio or build.json


def test_fluidsynth_setting_ranges_are_the_ones_checked() -> None:
    from gansynth.data.fluid import GAIN_RANGE, SAMPLE_RATE_RANGE, setting_range

    require_system(_has_fluidsynth(), "libfluidsynth")
    assert setting_range("synth.gain") == GAIN_RANGE
    assert setting_range("synth.sample-rate") == SAMPLE_RATE_RANGE


def _has_fluidsynth() -> bool:
    from gansynth.data.fluid import FluidSynthMissingError, library

    try:
        library()
    except FluidSynthMissingError:
        return False
    return True


def test_two_valid_gains_give_different_levels(timgm: Path) -> None:
    from gansynth.data.fluid import NoteRenderer

    peaks = []
    for gain in (0.3, 0.6):
        with NoteRenderer(timgm, 48000, gain) as renderer:
            renderer.render(0, 60, 100, 4096, 4096)  # the throw-away first note
            peaks.append(float(np.abs(renderer.render(0, 60, 100, 96000, 192000)).max()))
    assert peaks[1] / peaks[0] == pytest.approx(2.0, rel=0.01)  # synth.gain is a linear factor
    with pytest.raises(BadInputError, match=r"FluidSynth refuses synth.gain 1000: it takes 0..10"):
        NoteRenderer(timgm, 48000, 1000)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("gain", -1.0, r"gain -1.0: FluidSynth's synth.gain takes 0..10"),
    ("gain", 1000.0, r"gain 1000.0: FluidSynth's synth.gain takes 0..10"),
    ("gain", 0.0, r"gain 0.0: .* above 0"),
    ("gain", float("nan"), r"gain nan"),
    ("hold_seconds", 0.0, r"hold_seconds 0.0: .*\(0 < hold_seconds <= 4\)"),
    ("hold_seconds", 4.5, r"hold_seconds 4.5"),
    ("silence_db", 0.0, r"silence_db 0.0: must be a finite level below 0 dBFS"),
    ("silence_db", 6.0, r"silence_db 6.0"),
    ("silence_db", float("-inf"), r"silence_db -inf"),
    ("render_rate", 44100, r"render_rate 44100: must be a multiple of 16000 Hz .* one of 16000, 32000"),
    ("render_rate", 112000, r"render_rate 112000: .* \(8000..96000\)"),
    ("render_rate", 0, r"render_rate 0"),
])
def test_settings_fluidsynth_would_ignore_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        small_settings(**{field: value})


def test_cli_refuses_a_gain_out_of_range_before_writing(timgm: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    for gain in ("-1", "1000"):
        out = tmp_path / f"gain{gain}"
        assert main(["data", "build-gm", "--soundfont", str(timgm), "--out", str(out), "--programs", "0",
                     "--pitches", "60", "--velocities", "100", "--gain", gain]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"gain {float(gain)}: FluidSynth's synth.gain takes 0..10" in err
        assert not out.exists()


def test_a_bad_soundfont_leaves_nothing_behind(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    require_system(_has_fluidsynth(), "libfluidsynth")
    not_sf2 = tmp_path / "notes.sf2"
    not_sf2.write_text("not a SoundFont\n")
    truncated = tmp_path / "truncated.sf2"  # a SoundFont's header, cut short
    truncated.write_bytes(Path(small_settings().soundfont).read_bytes()[:5000])
    for soundfont, message in ((tmp_path / "none.sf2", "none.sf2: SoundFont not found"),
                               (tmp_path, "SoundFont not found"),
                               (not_sf2, r"notes.sf2: not a SoundFont \(a .sf2 file starts with RIFF....sfbk\)"),
                               (truncated, "truncated.sf2: FluidSynth could not load this file as a SoundFont")):
        for workers in (1, 2):  # with 2, a worker's failing start used to restart forever
            out = tmp_path / "out" / "gm"
            with pytest.raises(BadInputError, match=message):
                build_gm(small_settings(soundfont=str(soundfont)), out, workers=workers, progress=False)
            assert not (tmp_path / "out").exists()
    capfd.readouterr()
    assert main(["data", "build-gm", "--soundfont", str(truncated), "--out", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err.strip()  # file descriptor 2: FluidSynth's loader prints nothing of its own
    assert len(err.splitlines()) == 1 and "could not load this file as a SoundFont" in err, err


FSIZE_SCRIPT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000))  # build.json fits, a 128 kB WAV does not
from gansynth.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _build_with_small_file_limit(timgm: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `data build-gm` in a process whose files may not exceed 50 kB: the first WAV write fails
    the way a full disk fails it (a real OS error; ENOSPC itself needs a small file system)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", FSIZE_SCRIPT, "data", "build-gm", "--soundfont", str(timgm),
                           "--out", str(out), "--programs", "0", "--pitches", "60,61", "--velocities", "100",
                           *extra], env=env, capture_output=True, text=True, timeout=300)


def test_a_write_error_is_one_line_and_a_fresh_folder_is_removed(timgm: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "gm"
    run = _build_with_small_file_limit(timgm, out)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error" in line]  # the rest: the progress bar
    assert len(errors) == 1 and errors[0].startswith("gansynth: error: "), run.stderr
    err = errors[0]
    assert re.search(r"gm/audio/keyboard_acoustic_000-06[01]-100.wav: could not be written", err), err
    assert not (tmp_path / "new").exists()  # the build made new/ and removed it
    # a user's own folder stays, with only what was there
    user = tmp_path / "mine"
    user.mkdir()
    (user / "readme.txt").write_text("mine\n")
    assert _build_with_small_file_limit(timgm, user).returncode == 2
    assert sorted(p.name for p in user.iterdir()) == ["readme.txt"]


def test_a_failed_resume_keeps_the_earlier_notes(gm_copy: Path, timgm: Path) -> None:
    settings = small_settings()
    before = sorted(p.name for p in (gm_copy / "audio").iterdir())
    victim = gm_copy / "audio" / before[0]
    victim.unlink()
    script = (f"{FSIZE_SCRIPT.split('from gansynth.cli')[0]}\nfrom gansynth.data.gm import build_gm\n"
              f"from tests.data.conftest import small_settings\n"
              f"build_gm(small_settings(), {str(gm_copy)!r}, progress=False)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and f"{victim}: could not be written" in run.stderr
    assert sorted(p.name for p in (gm_copy / "audio").iterdir()) == before[1:]
    assert (gm_copy / "build.json").is_file() and (gm_copy / "examples.json").is_file()
    result = build_gm(settings, gm_copy, progress=False)  # resumes once writing works again
    assert result.rendered == 1 and victim.is_file()


@pytest.mark.parametrize("case", ["file", "below a file", "proc", "sys"])
def test_unwritable_output_is_refused_before_work(case: str, timgm: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "file.txt"
    existing.write_text("keep me\n")
    out, message = {
        "file": (existing, "file.txt: exists and is not a folder"),
        "below a file": (existing / "sub", "file.txt is a file, so no folder can be created below it"),
        "proc": (Path(f"/proc/gansynth-test-{os.getpid()}/gm"),
                 "cannot create or write the output folder (No such file or directory)"),
        "sys": (Path(f"/sys/gansynth-test-{os.getpid()}"), "cannot create or write the output folder"),
    }[case]
    if case in ("proc", "sys") and not Path(f"/{case}/self" if case == "proc" else "/sys/kernel").exists():
        pytest.skip(f"no /{case} file system here")
    assert main(["data", "build-gm", "--soundfont", str(timgm), "--out", str(out), "--programs", "0",
                 "--pitches", "60", "--velocities", "100"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(out) in err
    assert existing.read_text() == "keep me\n" and (case == "file" or not out.exists())


def test_read_only_output_folder_is_refused(timgm: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders: chmod cannot reproduce this as root")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["data", "build-gm", "--soundfont", str(timgm), "--out", str(folder / "gm"),
                     "--programs", "0", "--pitches", "60", "--velocities", "100"]) == 2
        err = capsys.readouterr().err.strip()
        assert "cannot create or write the output folder (Permission denied)" in err
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)
