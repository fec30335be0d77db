"""File output helpers: every file the project writes goes to a temporary name first and is
renamed into place, so an interrupted or failed write never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from gansynth.errors import BadInputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed.

    The temporary name keeps the final suffix so that writers choosing a format by extension
    (soundfile, torch.save, matplotlib) behave as for the final name.
    """
    final = Path(path)
    if final.parent and not final.parent.exists():
        raise BadInputError(f"{final}: output folder {final.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}",
                                    dir=final.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
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
        sf.write(str(tmp), audio, sample_rate, format=fmt[0], subtype=subtype or fmt[1])
