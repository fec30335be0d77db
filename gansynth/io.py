"""File helpers: every file the project writes goes to a temporary name first and is renamed into
place (the folder fsynced), so an interrupted or failed write never leaves a half-written file;
outputs are checked before the work that fills them starts, and inputs are checked to be files.
An OS error while writing becomes one `BadInputError` naming the file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from gansynth.errors import BadInputError


def require_file(path: str | os.PathLike[str], what: str) -> Path:
    """`path` as a Path if it is an existing regular file; else BadInputError naming it as the
    `what` that is missing or that is a folder."""
    p = Path(path)
    if p.is_dir():
        raise BadInputError(f"{p}: is a folder, not a {what}")
    if not p.is_file():
        raise BadInputError(f"{p}: {what} not found")
    return p


def check_output(path: str | os.PathLike[str], suffixes: tuple[str, ...] = (), what: str = "output"
                 ) -> Path:
    """Check, before any work, that `path` can be written: its suffix is one of `suffixes` (when
    given, lower case with the dot), it is not a folder, its folder exists and a file can be
    created there. Returns it as a Path; raises BadInputError naming it otherwise."""
    out = Path(path)
    if suffixes and out.suffix.lower() not in suffixes:
        raise BadInputError(f"{out}: {what} must end in {' or '.join(suffixes)}")
    if out.is_dir():
        raise BadInputError(f"{out}: is a folder; give a file name for the {what}")
    folder = out.parent
    if not folder.is_dir():
        raise BadInputError(f"{out}: output folder {folder} does not exist")
    try:  # the real test: permissions, read-only file systems, quotas
        fd, probe = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise BadInputError(f"{out}: cannot write in {folder} ({err.strerror or err})") from err
    return out


def fsync(path: Path) -> None:
    """Flush a file or a folder to disk (a folder where the file system can flush one)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:  # some file systems cannot flush a folder; a file must flush
        if not (path.is_dir() and err.errno in (errno.EINVAL, errno.ENOTSUP)):
            raise
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Make the complete file `tmp` the file `final`: flush it to disk, rename it over `final`
    and flush the folder, so that after a crash `final` is the old or the new file, whole."""
    fsync(tmp)
    os.replace(tmp, final)
    fsync(final.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path` and the folder is
    fsynced, on error it is removed. An OSError (unwritable folder, full disk, `path` a folder)
    becomes a BadInputError naming `path`.

    The temporary name keeps the final suffix so that writers choosing a format by extension
    (soundfile, torch.save, matplotlib) behave as for the final name.
    """
    final = Path(path)
    folder = final.parent
    if not folder.is_dir():
        raise BadInputError(f"{final}: output folder {folder} does not exist")
    if final.is_dir():
        raise BadInputError(f"{final}: is a folder; give a file name")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}",
                                        dir=folder)
    except OSError as err:
        raise BadInputError(f"{final}: cannot write in {folder} ({err.strerror or err})") from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        publish(tmp, final)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError):
            raise BadInputError(f"{final}: could not be written ({err.strerror or err})") from err
        raise


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with librosa's soxr backend (float32 out)."""
    if orig_sr == target_sr:
        return np.asarray(audio, dtype=np.float32)
    import librosa

    out = librosa.resample(np.asarray(audio, dtype=np.float32), orig_sr=orig_sr,
                           target_sr=target_sr, res_type="soxr_hq", axis=-1)
    return np.asarray(out, dtype=np.float32)


AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int,
                subtype: str | None = None) -> None:
    """Write mono or (samples, channels) float audio in [-1, 1] to WAV or FLAC, chosen by suffix.

    audio: (samples,) or (samples, channels) float; written atomically.
    """
    final = Path(path)
    fmt = AUDIO_FORMATS.get(final.suffix.lower())
    if fmt is None:
        raise BadInputError(f"{final}: unsupported audio extension {final.suffix!r}; use .wav or .flac")
    audio = np.asarray(audio, dtype=np.float32)
    if not np.all(np.isfinite(audio)):
        raise BadInputError(f"{final}: refusing to write audio containing NaN or Inf")
    with atomic_path(final) as tmp:
        try:
            sf.write(str(tmp), audio, sample_rate, format=fmt[0], subtype=subtype or fmt[1])
        except sf.LibsndfileError as err:  # libsndfile reports a full disk as "System error"
            raise OSError(f"libsndfile: {err}; is the disk full?") from err
