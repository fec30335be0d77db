"""The GM builder: render NSynth-format notes from a General MIDI SoundFont with FluidSynth.

Each note (program, pitch, velocity) is rendered on its own: note-on at 0, note-off at 3 s, 4 s in
all, reverb and chorus off, at 48 kHz, then resampled to 16 kHz with a polyphase anti-aliasing
filter (FluidSynth's own interpolation at 16 kHz would alias the SoundFont's 44.1 kHz samples),
rounded to 16 bits here (`to_pcm16`) and written as `audio/<note_str>.wav` or, with
`audio_format="flac"`, as the same samples in `audio/<note_str>.flac`. Metadata follow the
GM -> NSynth mapping of `gansynth.data.gm_programs`. Notes whose peak is below `silence_db` (keys a SoundFont does not map)
are skipped and counted; a note whose peak would clip is scaled to just under full scale and counted.

Deterministic (each note's audio depends only on its own parameters, whatever the worker), parallel
(one synthesizer per worker process: loading the SoundFont is the slow part), resumable (a note file
that exists is finished: every file is written to a temporary name and renamed) and checked: settings
FluidSynth would ignore (a gain outside 0..10) are refused, the SoundFont and the output folder are
checked before anything is created, a build that fails removes what it created, and a rerun with
other settings (another audio format included) into the same folder is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gansynth import checks
from gansynth.data.fluid import GAIN_RANGE, SAMPLE_RATE_RANGE
from gansynth.data.gm_programs import GM_PROGRAMS
from gansynth.data.notes import NSYNTH_SPECTRAL, NoteMeta, write_split_csv
from gansynth.data.nsynth import AUDIO_FORMATS
from gansynth.errors import BadInputError, GansynthError
from gansynth.io import atomic_path

# the notes are written in NSynth's format, the default spectral config's rate and length
SAMPLE_RATE = NSYNTH_SPECTRAL.sample_rate
NOTE_LENGTH = NSYNTH_SPECTRAL.audio_length
MAX_WORKERS = 256  # render processes
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
    audio_format: str = "wav"  # "wav" or "flac": the same 16-bit samples, FLAC in fewer bytes

    def __post_init__(self) -> None:
        if self.split_by not in ("instrument", "note"):
            raise BadInputError(f"split_by {self.split_by!r}: use 'instrument' or 'note'")
        if self.audio_format not in AUDIO_FORMATS:
            raise BadInputError(f"audio_format {self.audio_format!r}: use one of "
                                + ", ".join(repr(f) for f in AUDIO_FORMATS))
        low_rate, high_rate = (int(r) for r in SAMPLE_RATE_RANGE)
        if (isinstance(self.render_rate, bool) or not isinstance(self.render_rate, int)
                or self.render_rate % SAMPLE_RATE or not low_rate <= self.render_rate <= high_rate):
            rates = ", ".join(str(r) for r in range(SAMPLE_RATE, high_rate + 1, SAMPLE_RATE))
            raise BadInputError(f"render_rate {self.render_rate!r}: must be a multiple of {SAMPLE_RATE} "
                                f"Hz that FluidSynth takes ({low_rate}..{high_rate}): one of {rates}")
        low_gain, high_gain = GAIN_RANGE
        if not _number_in(self.gain, low_gain, high_gain) or self.gain == low_gain:
            raise BadInputError(f"gain {self.gain!r}: FluidSynth's synth.gain takes {low_gain:g}..{high_gain:g} "
                                f"(it ignores other values); use a value above {low_gain:g} and at most "
                                f"{high_gain:g}, e.g. the default 0.6")
        note_seconds = NOTE_LENGTH / SAMPLE_RATE
        if not _number_in(self.hold_seconds, 0.0, note_seconds) or self.hold_seconds == 0:
            raise BadInputError(f"hold_seconds {self.hold_seconds!r}: the note-off must come after the "
                                f"note-on and within the {note_seconds:g} s note (0 < hold_seconds <= "
                                f"{note_seconds:g})")
        if not _number_in(self.silence_db, -math.inf, 0.0) or self.silence_db == 0:
            raise BadInputError(f"silence_db {self.silence_db!r}: must be a finite level below 0 dBFS "
                                "(the peak under which a note counts as silent), e.g. the default -60")
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


def _number_in(value: object, low: float, high: float) -> bool:
    """Whether `value` is a finite real number (not a bool) in [low, high]."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


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
_INIT_ERROR: GansynthError | None = None


def _soundfont_path(settings: GMBuildSettings) -> Path:
    sf2 = Path(settings.soundfont)
    if not sf2.is_file():
        raise BadInputError(f"{sf2}: SoundFont not found; give the path of a .sf2 file "
                            "(Debian: apt-get install fluid-soundfont-gm)")
    return sf2


def open_renderer(settings: GMBuildSettings) -> Any:
    """A `NoteRenderer` of `settings` (libfluidsynth loaded, the SoundFont loaded, every program
    present in bank 0), or BadInputError / FluidSynthMissingError naming the problem."""
    from gansynth.data.fluid import NoteRenderer

    sf2 = _soundfont_path(settings)
    renderer = NoteRenderer(sf2, settings.render_rate, settings.gain)
    missing = [p for p in settings.programs if not renderer.has_program(p)]
    if missing:
        renderer.close()
        raise BadInputError(f"{sf2}: no preset for GM program(s) {', '.join(map(str, missing[:8]))} in "
                            "bank 0; leave them out of the programs or use a General MIDI SoundFont")
    return renderer


def _init_worker(settings: GMBuildSettings, out: Path, renderer: Any = None) -> None:
    """Set up this process's renderer; an error is kept and raised by `_render_note` (an exception
    in a pool's initializer would make the pool restart the worker forever)."""
    global _RENDERER, _SETTINGS, _OUT, _INIT_ERROR
    _SETTINGS, _OUT = settings, out
    try:
        _RENDERER = renderer if renderer is not None else open_renderer(settings)
        # a throw-away note: a fresh synth's very first note differs slightly from later ones; after
        # this, every note renders the same whatever came before it (checked by the tests)
        _render_audio(0 if 0 in settings.programs else settings.programs[0], 60, 100)
    except GansynthError as err:
        _INIT_ERROR = err


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


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """(samples,) float audio in [-1, 1] -> int16, round(audio * 32768) clipped to the int16 range:
    the inverse of the readers' int16 / 32768.

    The builder rounds here rather than leaving it to libsndfile, whose float -> PCM_16 conversion
    differs by format (libsndfile 1.2.2 floors for WAV and rounds for FLAC), so that a WAV and a FLAC
    build hold the same samples.
    """
    scaled = np.rint(np.asarray(audio, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def write_note_audio(path: Path, audio: np.ndarray) -> None:
    """Write one note's (NOTE_LENGTH,) float audio as 16-bit PCM at SAMPLE_RATE, atomically, in the
    format of `path`'s suffix (.wav or .flac). An OS error is one BadInputError naming `path`."""
    import soundfile as sf

    if not np.all(np.isfinite(audio)):
        raise BadInputError(f"{path}: refusing to write audio containing NaN or Inf")
    pcm = to_pcm16(audio)
    with atomic_path(path) as tmp:  # the temporary name keeps the suffix: libsndfile picks the format
        try:
            sf.write(str(tmp), pcm, SAMPLE_RATE, format=path.suffix[1:].upper(), subtype="PCM_16")
        except sf.LibsndfileError as err:  # libsndfile reports a full disk as "System error"
            raise OSError(f"libsndfile: {err}; is the disk full?") from err


def note_audio_path(out: Path, note_str: str, audio_format: str) -> Path:
    """Where a build in `out` writes one note's audio: out/audio/<note_str>.<audio_format>."""
    return out / "audio" / f"{note_str}.{audio_format}"


def _render_note(task: tuple[int, int, int]) -> tuple[str, str]:
    """Render and write one note; returns (note_str, "ok" | "silent" | "limited")."""
    if _INIT_ERROR is not None:
        raise _INIT_ERROR
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
    write_note_audio(note_audio_path(_OUT, meta.note_str, _SETTINGS.audio_format), audio)
    return meta.note_str, status


# ---------------------------------------------------------------------------------------------
# main side


def _check_folder(out: Path) -> None:
    """Refuse an output folder that is a file or lies below one (before anything is created)."""
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out}: exists and is not a folder; choose a folder for the output")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise BadInputError(f"{out}: {existing} is a file, so no folder can be created below it; "
                            "choose another output folder")


def _create_folder(out: Path) -> Path | None:
    """Create `out/audio` and check a file can be written there, before any note is rendered.

    Returns the topmost folder this created (None if `out/audio` existed), for removal if the
    build fails. Raises BadInputError naming `out` when it cannot be created or written
    (permissions, read-only or special file systems such as /proc and /sys).
    """
    audio = out / "audio"
    created = next((f for f in [*reversed(audio.parents), audio] if not f.exists()), None)
    try:
        audio.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=audio):  # the real test: permissions, read-only mounts, quotas
            pass
    except OSError as err:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise BadInputError(f"{out}: cannot create or write the output folder ({err.strerror or err}); "
                            "choose a writable output folder") from err
    return created


def _check_manifest(out: Path, settings: GMBuildSettings) -> dict[str, Any]:
    """Refuse to resume into a folder built with other settings; return the old manifest (or {})."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path}: not valid JSON; delete {out} and build again") from err
    old_settings, new_settings = old.get("settings"), settings.manifest()
    if isinstance(old_settings, dict):
        old_settings = {"audio_format": "wav", **old_settings}  # builds before the option wrote WAV
        old_format = old_settings["audio_format"]
        if old_format != settings.audio_format and {**old_settings, "audio_format": settings.audio_format
                                                    } == new_settings:  # only the format differs
            raise BadInputError(f"{out} was built with audio_format {old_format!r} (see {path}); resume it "
                                f"with audio_format {old_format!r}, or choose a new output folder")
    if old_settings != new_settings:
        raise BadInputError(f"{out} was built with other settings (see {path}); choose a new output folder "
                            "or delete the folder to rebuild")
    return dict(old)


def _refuse_other_format(out: Path, note_str: str, audio_format: str) -> None:
    """Refuse to render a note that `out` already holds in another format (a folder without a
    build.json, or converted after its build): the folder would hold two files of one note."""
    for other in (f for f in AUDIO_FORMATS if f != audio_format):
        path = note_audio_path(out, note_str, other)
        if path.is_file():
            raise BadInputError(f"{path}: this note exists as {other}, and this build writes "
                                f"{audio_format}; build with audio_format {other!r}, or choose a new "
                                "output folder")


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

    Writes out/audio/<note_str>.wav or .flac (`settings.audio_format`; 64000 samples, 16 kHz,
    PCM 16), out/examples.json, out/splits.csv (id,split) and out/build.json (settings and counts).
    Returns the counts.

    Before anything is created, libfluidsynth, the SoundFont (and its programs), an earlier build in
    `out` and the output location are checked. A build that fails removes the folders and files it
    created (never a folder or notes that were there before); an interrupted one (Ctrl-C, a killed
    process) keeps its notes, and rerunning it resumes. workers: render processes, 1..MAX_WORKERS.
    """
    import time

    workers = checks.whole(workers, "workers", 1, MAX_WORKERS)

    from tqdm import tqdm

    start = time.perf_counter()
    out_dir = Path(out)
    _check_folder(out_dir)
    sf2 = _soundfont_path(settings)
    old = _check_manifest(out_dir, settings)
    old_silent = set(old.get("silent", [])) if old.get("complete") else set()
    tasks = [(p, k, v) for p in settings.programs for k in settings.pitches for v in settings.velocities]
    result = BuildResult(out=out_dir)
    todo = []
    for task in tasks:
        meta = note_meta(*task)
        if note_audio_path(out_dir, meta.note_str, settings.audio_format).is_file():
            result.existing += 1
        elif meta.note_str in old_silent:
            result.silent.append(meta.note_str)
        else:
            _refuse_other_format(out_dir, meta.note_str, settings.audio_format)
            todo.append(task)
    renderer = open_renderer(settings) if todo else None
    if renderer is not None and workers > 1:
        renderer.close()  # checked here; each worker process loads its own
        renderer = None

    top_files = [out_dir / name for name in (MANIFEST, "examples.json", "splits.csv")]
    had = {path for path in top_files if path.exists()}
    created = _create_folder(out_dir)
    try:
        _write_json(out_dir / MANIFEST, {"settings": settings.manifest(), "complete": False})
        statuses: dict[str, str] = {}
        with tqdm(total=len(todo), desc=f"rendering {sf2.name}", unit="note", disable=not progress) as bar:
            if todo and workers <= 1:
                _init_worker(settings, out_dir, renderer)
                for task in todo:
                    name, status = _render_note(task)
                    statuses[name] = status
                    bar.update()
            elif todo:
                ctx = multiprocessing.get_context("spawn")
                chunk = max(1, min(16, math.ceil(len(todo) / (workers * 8))))
                with ctx.Pool(workers, initializer=_init_worker, initargs=(settings, out_dir)) as pool:
                    for name, status in pool.imap_unordered(_render_note, todo, chunksize=chunk):
                        statuses[name] = status
                        bar.update()
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
    except Exception:
        # a failed build leaves nothing it created: the fresh folder, or new files in a user's folder
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        for path in top_files:
            if path not in had:
                with contextlib.suppress(OSError):
                    path.unlink()
        raise
    finally:
        if renderer is not None:
            renderer.close()
    return result


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1))


def programs_named(programs: Sequence[int]) -> list[str]:
    """Human-readable names of GM programs (for logs and docs)."""
    return [f"{p}: {GM_PROGRAMS[p].name}" for p in programs]
