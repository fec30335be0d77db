"""A minimal ctypes binding to libfluidsynth (Debian package `libfluidsynth3`): one synthesizer
with one SoundFont loaded, rendering single notes to float arrays.

Loading a SoundFont is the slow part (FluidR3_GM is 148 MB), so a `NoteRenderer` is created once
per worker process and renders many notes. Reverb and chorus are off and every voice is killed and
the synth reset between notes, so a note's audio depends only on (program, pitch, velocity) and
not on the notes rendered before it: the build is deterministic whatever the worker order.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gansynth.errors import BadInputError, GansynthError

BLOCK = 64  # FluidSynth renders in blocks of 64 samples; events apply at block boundaries
# FluidSynth 2's ranges of the settings we set (fluid_settings_getnum_range; the tests compare):
# a value outside is refused by fluid_settings_setnum and the default (gain 0.2) stays in effect
GAIN_RANGE = (0.0, 10.0)  # synth.gain, linear
SAMPLE_RATE_RANGE = (8000.0, 96000.0)  # synth.sample-rate, Hz


class FluidSynthMissingError(GansynthError):
    """libfluidsynth could not be loaded."""


def _load_library() -> ctypes.CDLL:
    names = ["libfluidsynth.so.3", ctypes.util.find_library("fluidsynth"), "libfluidsynth.so.2"]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        _declare(lib)
        return lib
    raise FluidSynthMissingError(
        "libfluidsynth was not found; install it (Debian/Ubuntu: apt-get install fluidsynth)")


def _declare(lib: ctypes.CDLL) -> None:
    vp, cp, ci, cd = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_double
    signatures: dict[str, tuple[object, list[object]]] = {
        "new_fluid_settings": (vp, []),
        "delete_fluid_settings": (None, [vp]),
        "fluid_settings_setnum": (ci, [vp, cp, cd]),
        "fluid_settings_setint": (ci, [vp, cp, ci]),
        "fluid_settings_setstr": (ci, [vp, cp, cp]),
        "fluid_settings_getnum_range": (None, [vp, cp, ctypes.POINTER(cd), ctypes.POINTER(cd)]),
        "new_fluid_synth": (vp, [vp]),
        "delete_fluid_synth": (None, [vp]),
        "fluid_synth_sfload": (ci, [vp, cp, ci]),
        "fluid_synth_program_select": (ci, [vp, ci, ci, ci, ci]),
        "fluid_synth_noteon": (ci, [vp, ci, ci, ci]),
        "fluid_synth_noteoff": (ci, [vp, ci, ci]),
        "fluid_synth_all_sounds_off": (ci, [vp, ci]),
        "fluid_synth_system_reset": (ci, [vp]),
        "fluid_synth_write_float": (ci, [vp, ci, vp, ci, ci, vp, ci, ci]),
        "fluid_set_log_function": (vp, [ci, vp, vp]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


_LIB: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """The loaded libfluidsynth (loaded once per process)."""
    global _LIB
    if _LIB is None:
        _LIB = _load_library()
        # silence FluidSynth's own warnings on stderr (e.g. about missing audio drivers)
        for level in range(5):
            _LIB.fluid_set_log_function(level, None, None)
    return _LIB


def setting_range(name: str) -> tuple[float, float]:
    """(min, max) that libfluidsynth accepts for the numeric setting `name` (e.g. "synth.gain")."""
    lib = library()
    settings = lib.new_fluid_settings()
    low, high = ctypes.c_double(), ctypes.c_double()
    try:
        lib.fluid_settings_getnum_range(settings, name.encode(), ctypes.byref(low), ctypes.byref(high))
    finally:
        lib.delete_fluid_settings(settings)
    return low.value, high.value


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send what C code writes to file descriptor 2 to /dev/null for the duration."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_soundfont_header(path: Path) -> None:
    """Refuse a file that is not a RIFF SoundFont (SF2/SF3 "sfbk") or DLS file before FluidSynth
    reads it (its loader prints errors of its own on stderr for other files)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except OSError as err:
        raise BadInputError(f"{path}: cannot read the SoundFont ({err.strerror or err})") from err
    if header[:4] != b"RIFF" or header[8:12] not in (b"sfbk", b"DLS "):
        raise BadInputError(f"{path}: not a SoundFont (a .sf2 file starts with RIFF....sfbk); give "
                            "the path of a .sf2 file")


class NoteRenderer:
    """One FluidSynth synthesizer with `soundfont` loaded, rendering one note at a time.

    sample_rate: the synthesizer's output rate in Hz (8000..96000). gain: FluidSynth's master gain
    (linear, 0..10). A value FluidSynth refuses raises BadInputError instead of leaving its default.
    """

    def __init__(self, soundfont: str | os.PathLike[str], sample_rate: int = 48000,
                 gain: float = 0.4) -> None:
        path = Path(soundfont)
        if not path.is_file():
            raise BadInputError(f"{path}: SoundFont not found; pass the path of a .sf2 file "
                                "(Debian: apt-get install fluid-soundfont-gm)")
        check_soundfont_header(path)
        lib = library()
        self._lib = lib
        self.sample_rate = sample_rate
        self._settings = lib.new_fluid_settings()
        for name, value in (("synth.sample-rate", sample_rate), ("synth.gain", gain)):
            if lib.fluid_settings_setnum(self._settings, name.encode(), float(value)) != 0:
                low, high = setting_range(name)
                self.close()
                raise BadInputError(f"FluidSynth refuses {name} {value}: it takes {low:g}..{high:g}")
        lib.fluid_settings_setint(self._settings, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.chorus.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.polyphony", 256)
        lib.fluid_settings_setint(self._settings, b"synth.cpu-cores", 1)
        lib.fluid_settings_setint(self._settings, b"synth.lock-memory", 0)
        lib.fluid_settings_setint(self._settings, b"synth.dynamic-sample-loading", 0)
        self._synth = lib.new_fluid_synth(self._settings)
        if not self._synth:
            raise BadInputError(f"{path}: FluidSynth could not create a synthesizer")
        with _stderr_silenced():  # libinstpatch prints glib criticals for a corrupt file
            self._sfont_id = lib.fluid_synth_sfload(self._synth, str(path).encode(), 1)
        if self._sfont_id < 0:
            self.close()
            raise BadInputError(f"{path}: FluidSynth could not load this file as a SoundFont (.sf2)")

    def has_program(self, program: int) -> bool:
        """Whether the SoundFont has a preset for GM `program` in bank 0."""
        return bool(self._lib.fluid_synth_program_select(self._synth, 0, self._sfont_id, 0, program) == 0)

    def render(self, program: int, pitch: int, velocity: int, hold_samples: int,
               total_samples: int) -> np.ndarray:
        """Render one note on channel 0: note-on at 0, note-off at `hold_samples`.

        Both lengths must be multiples of 64 (FluidSynth's block). Returns (total_samples,) float32
        mono (the mean of the left and right outputs), in the synth's amplitude units (~[-1, 1]).
        """
        if hold_samples % BLOCK or total_samples % BLOCK or hold_samples > total_samples:
            raise ValueError(f"hold {hold_samples} and total {total_samples} must be multiples of {BLOCK}")
        lib, synth = self._lib, self._synth
        lib.fluid_synth_system_reset(synth)
        if lib.fluid_synth_program_select(synth, 0, self._sfont_id, 0, program) != 0:
            raise BadInputError(f"SoundFont has no preset for program {program} in bank 0")
        left = np.zeros(total_samples, dtype=np.float32)
        right = np.zeros(total_samples, dtype=np.float32)
        lib.fluid_synth_noteon(synth, 0, pitch, velocity)
        self._write(left, right, 0, hold_samples)
        lib.fluid_synth_noteoff(synth, 0, pitch)
        self._write(left, right, hold_samples, total_samples - hold_samples)
        lib.fluid_synth_all_sounds_off(synth, -1)
        return 0.5 * (left + right)

    def _write(self, left: np.ndarray, right: np.ndarray, offset: int, count: int) -> None:
        step = 4096
        for start in range(offset, offset + count, step):
            n = min(step, offset + count - start)
            status = self._lib.fluid_synth_write_float(
                self._synth, n, left.ctypes.data + 4 * start, 0, 1,
                right.ctypes.data + 4 * start, 0, 1)
            if status != 0:
                raise GansynthError("FluidSynth failed to render audio")

    def close(self) -> None:
        """Free the synthesizer and its settings."""
        if getattr(self, "_synth", None):
            self._lib.delete_fluid_synth(self._synth)
            self._synth = None
        if getattr(self, "_settings", None):
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __enter__(self) -> NoteRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
