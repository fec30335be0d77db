"""The GM builder: render NSynth-format notes from a General MIDI SoundFont with FluidSynth.

Each note (program, pitch, velocity) is rendered on its own: note-on at 0, note-off at 3 s, 4 s in
all, reverb and chorus off, at 48 kHz, then resampled to 16 kHz with a polyphase anti-aliasing
filter (FluidSynth's own interpolation at 16 kHz would alias the SoundFont's 44.1 kHz samples) and
written as 16-bit PCM `audio/<note_str>.wav`. Metadata follow the GM -> NSynth mapping of
`gansynth.data.gm_programs`. Notes whose peak is below `silence_db` (keys a SoundFont does not map)
are skipped and counted; a note whose peak would clip is scaled to just under full scale and counted.

Deterministic (each note's audio depends only on its own parameters, whatever the worker), parallel
(one synthesizer per worker process: loading the SoundFont is the slow part), resumable (a WAV that
exists is finished: every file is written to a temporary name and renamed) and checked: a rerun with
other settings into the same folder is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gansynth.data.gm_programs import GM_PROGRAMS
from gansynth.data.notes import NSYNTH_SPECTRAL, NoteMeta, write_split_csv
from gansynth.errors import BadInputError
from gansynth.io import atomic_path, write_audio

# the notes are written in NSynth's format, the default spectral config's rate and length
SAMPLE_RATE = NSYNTH_SPECTRAL.sample_rate
NOTE_LENGTH = NSYNTH_SPECTRAL.audio_length
SPLIT_FRACTIONS = (("train", 0.8), ("valid", 0.1), ("test", 0.1))
DEFAULT_VELOCITIES = (25, 50, 75, 100, 127)
MANIFEST = "build.json"


@dataclass(frozen=True)
class GMBuildSettings:
    """Everything that determines the built notes' bytes (saved in build.json)."""

    soundfont: str
    programs: tuple[int, ...] = tuple(range(128))
    pitches: tuple[int, ...] = tuple(range(24, 85))
    velocities: tuple[int, ...] = DEFAULT_VELOCITIES
    render_rate: int = 48000
    hold_seconds: float = 3.0
    gain: float = 0.6
    silence_db: float = -60.0
    split_by: str = "instrument"

    def __post_init__(self) -> None:
        if self.split_by not in ("instrument", "note"):
            raise BadInputError(f"split_by {self.split_by!r}: use 'instrument' or 'note'")
        if self.render_rate % SAMPLE_RATE:
            raise BadInputError(f"render rate {self.render_rate} must be a multiple of {SAMPLE_RATE}")
        for name, values, low in (("programs", self.programs, 0), ("pitches", self.pitches, 0),
                                  ("velocities", self.velocities, 1)):
            if not values or any(not low <= v <= 127 for v in values):
                raise BadInputError(f"{name}: values must lie in {low}..127, got {values}")

    def manifest(self) -> dict[str, Any]:
        out = asdict(self)
        sf2 = Path(self.soundfont)
        out["soundfont"] = sf2.name
        out["soundfont_bytes"] = sf2.stat().st_size
        for key in ("programs", "pitches", "velocities"):
            out[key] = list(out[key])
        return out


def note_meta(program: int, pitch: int, velocity: int) -> NoteMeta:
    """NSynth metadata of one GM note; `note` is a grid id (program * 16384 + pitch * 128 + velocity)."""
    gm = GM_PROGRAMS[program]
    instrument_str = gm.instrument_str
    return NoteMeta(
        note_str=f"{instrument_str}-{pitch:03d}-{velocity:03d}", note=program * 16384 + pitch * 128 + velocity,
        pitch=pitch, velocity=velocity, instrument=program, instrument_str=instrument_str,
        instrument_family=gm.family_id, instrument_family_str=gm.family,
        instrument_source=gm.source_id, instrument_source_str=gm.source,
        qualities=(0,) * 10, qualities_str=(), sample_rate=SAMPLE_RATE)


def split_of(key: str) -> str:
    """Deterministic split of an id: sha256(key) as a fraction in [0, 1) against 80/10/10."""
    u = int(hashlib.sha256(key.encode()).hexdigest()[:15], 16) / 16**15
    cumulative = 0.0
    for name, fraction in SPLIT_FRACTIONS:
        cumulative += fraction
        if u < cumulative:
            return name
    return SPLIT_FRACTIONS[-1][0]


@dataclass
class BuildResult:
    """What one build did: notes written now, already present, silent, scaled to avoid clipping."""

    out: Path
    rendered: int = 0
    existing: int = 0
    silent: list[str] = field(default_factory=list)
    limited: list[str] = field(default_factory=list)
    notes: list[NoteMeta] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.out}: {len(self.notes)} notes ({self.rendered} rendered, {self.existing} already "
                f"there), {len(self.silent)} silent notes skipped, {len(self.limited)} scaled to avoid "
                f"clipping, {self.seconds:.1f} s")


# ---------------------------------------------------------------------------------------------
# worker side: one renderer per process

_RENDERER: Any = None
_SETTINGS: GMBuildSettings | None = None
_OUT: Path | None = None


def _init_worker(settings: GMBuildSettings, out: Path) -> None:
    global _RENDERER, _SETTINGS, _OUT
    from gansynth.data.fluid import NoteRenderer

    _RENDERER = NoteRenderer(settings.soundfont, settings.render_rate, settings.gain)
    _SETTINGS, _OUT = settings, out
    # a throw-away note: a fresh synth's very first note differs slightly from later ones; after
    # this, every note renders the same whatever came before it (checked by the tests)
    _render_audio(0 if 0 in settings.programs else settings.programs[0], 60, 100)


def _render_audio(program: int, pitch: int, velocity: int) -> np.ndarray:
    """(NOTE_LENGTH,) float64 audio of one note at SAMPLE_RATE, before silence/clip handling."""
    from scipy.signal import resample_poly

    assert _RENDERER is not None and _SETTINGS is not None
    s = _SETTINGS
    factor = s.render_rate // SAMPLE_RATE
    total = NOTE_LENGTH * factor
    hold = int(round(s.hold_seconds * SAMPLE_RATE)) * factor
    hold -= hold % 64
    audio = _RENDERER.render(program, pitch, velocity, hold, total)
    if factor > 1:
        audio = resample_poly(audio.astype(np.float64), 1, factor)
    return np.asarray(audio[:NOTE_LENGTH], dtype=np.float64)


def _render_note(task: tuple[int, int, int]) -> tuple[str, str]:
    """Render and write one note; returns (note_str, "ok" | "silent" | "limited")."""
    assert _SETTINGS is not None and _OUT is not None
    program, pitch, velocity = task
    meta = note_meta(program, pitch, velocity)
    audio = _render_audio(program, pitch, velocity)
    peak = float(np.abs(audio).max())
    if peak < 10 ** (_SETTINGS.silence_db / 20):
        return meta.note_str, "silent"
    status = "ok"
    if peak > 0.999:
        audio *= 0.999 / peak
        status = "limited"
    write_audio(_OUT / "audio" / f"{meta.note_str}.wav", audio.astype(np.float32), SAMPLE_RATE)
    return meta.note_str, status


# ---------------------------------------------------------------------------------------------
# main side


def _check_manifest(out: Path, settings: GMBuildSettings) -> dict[str, Any]:
    """Refuse to resume into a folder built with other settings; return the old manifest (or {})."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path}: not valid JSON; delete {out} and build again") from err
    if old.get("settings") != settings.manifest():
        raise BadInputError(f"{out} was built with other settings (see {path}); choose a new output folder "
                            "or delete the folder to rebuild")
    return dict(old)


def _write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def write_examples_json(path: Path, notes: Iterable[NoteMeta]) -> None:
    """examples.json, one note per line, atomically."""
    lines = [f" {json.dumps(m.note_str)}: {json.dumps(m.to_json())}" for m in notes]
    with atomic_path(path) as tmp:
        tmp.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def build_gm(settings: GMBuildSettings, out: str | os.PathLike[str], workers: int = 1,
             progress: bool = True) -> BuildResult:
    """Render every (program, pitch, velocity) of `settings` into the NSynth layout under `out`.

    Writes out/audio/<note_str>.wav (64000 samples, 16 kHz, PCM 16), out/examples.json,
    out/splits.csv (id,split) and out/build.json (settings and counts). Returns the counts.
    """
    import time

    from tqdm import tqdm

    start = time.perf_counter()
    sf2 = Path(settings.soundfont)
    if not sf2.is_file():
        raise BadInputError(f"{sf2}: SoundFont not found; pass the path of a .sf2 file "
                            "(Debian: apt-get install fluid-soundfont-gm)")
    out_dir = Path(out)
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    old = _check_manifest(out_dir, settings)
    old_silent = set(old.get("silent", [])) if old.get("complete") else set()
    _write_json(out_dir / MANIFEST, {"settings": settings.manifest(), "complete": False})

    tasks = [(p, k, v) for p in settings.programs for k in settings.pitches for v in settings.velocities]
    result = BuildResult(out=out_dir)
    todo = []
    for task in tasks:
        meta = note_meta(*task)
        if (out_dir / "audio" / f"{meta.note_str}.wav").is_file():
            result.existing += 1
        elif meta.note_str in old_silent:
            result.silent.append(meta.note_str)
        else:
            todo.append(task)

    statuses: dict[str, str] = {}
    bar = tqdm(total=len(todo), desc=f"rendering {sf2.name}", unit="note", disable=not progress)
    if todo:
        if workers <= 1:
            _init_worker(settings, out_dir)
            for task in todo:
                name, status = _render_note(task)
                statuses[name] = status
                bar.update()
        else:
            ctx = multiprocessing.get_context("spawn")
            chunk = max(1, min(16, math.ceil(len(todo) / (workers * 8))))
            with ctx.Pool(workers, initializer=_init_worker, initargs=(settings, out_dir)) as pool:
                for name, status in pool.imap_unordered(_render_note, todo, chunksize=chunk):
                    statuses[name] = status
                    bar.update()
    bar.close()
    result.rendered = sum(1 for s in statuses.values() if s != "silent")
    result.silent += sorted(n for n, s in statuses.items() if s == "silent")
    result.limited = sorted(n for n, s in statuses.items() if s == "limited")

    silent = set(result.silent)
    result.notes = [m for m in (note_meta(*t) for t in tasks) if m.note_str not in silent]
    write_examples_json(out_dir / "examples.json", result.notes)
    key = (lambda m: m.instrument_str) if settings.split_by == "instrument" else (lambda m: m.note_str)
    write_split_csv(out_dir / "splits.csv", ((m.note_str, split_of(key(m))) for m in result.notes))
    result.seconds = time.perf_counter() - start
    _write_json(out_dir / MANIFEST, {
        "settings": settings.manifest(), "complete": True, "notes": len(result.notes),
        "silent": sorted(silent), "limited_this_run": result.limited})
    return result


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1))


def programs_named(programs: Sequence[int]) -> list[str]:
    """Human-readable names of GM programs (for logs and docs)."""
    return [f"{p}: {GM_PROGRAMS[p].name}" for p in programs]
