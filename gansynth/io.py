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

from gansynth import checks
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


AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"),
                 ".mp3": ("MP3", "MPEG_LAYER_III")}  # suffix -> soundfile (format, subtype)

# MPEG audio layer III (LAME through libsndfile) by output sample rate: the MPEG version, its
# constant bitrates in kbps, and the (top, bottom) of libsndfile's compression-level scale
_MPEG1 = ("MPEG-1", (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320), (320, 32))
_MPEG2 = ("MPEG-2", (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160), (160, 8))
_MPEG25 = ("MPEG-2.5", (8, 16, 24, 32, 40, 48, 56, 64), (64, 8))
MP3_VERSIONS = {8000: _MPEG25, 11025: _MPEG25, 12000: _MPEG25, 16000: _MPEG2, 22050: _MPEG2,
                24000: _MPEG2, 32000: _MPEG1, 44100: _MPEG1, 48000: _MPEG1}
# 64 kbps: legal at every MP3 sample rate, and the lowest bitrate whose frames are large enough
# for LAME's gapless tag at all of them (below it, at 16 kHz from 32 kbps down, decoders play
# 1105 samples of encoder delay first); on the shipped model's 16 kHz notes it keeps ~40 dB SNR
# below 6 kHz (48 kbps: 33 dB, 96 kbps: 51 dB) and LAME's full 7.4 kHz pass band, at a quarter
# of the size of 16-bit WAV. Measured with scripts/measure_mp3.py (docs/usage.md).
DEFAULT_MP3_KBPS = 64


def check_audio_settings(path: str | os.PathLike[str], sample_rate: int,
                         bitrate_kbps: int | None = None, channels: int = 1) -> int | None:
    """Check, before any work, that audio of `sample_rate` Hz and `channels` can be written to
    `path` in the format its suffix names (.wav, .flac, .mp3) with `bitrate_kbps`. Returns the
    MP3 bitrate that will be used (`DEFAULT_MP3_KBPS` when None), or None for lossless WAV and
    FLAC, which refuse a bitrate. Raises BadInputError naming the file and the allowed values.

    MP3 sample rates: 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000 Hz, and
    the bitrates of the MPEG version for the rate (`MP3_VERSIONS`): 8..160 kbps at 16-24 kHz
    (the model's 16 kHz), 32..320 kbps at 32-48 kHz, 8..64 kbps at 8-12 kHz.
    """
    final = Path(path)
    fmt = AUDIO_FORMATS.get(final.suffix.lower())
    if fmt is None:
        raise BadInputError(f"{final}: unsupported audio extension {final.suffix!r}; use "
                            + ", ".join(AUDIO_FORMATS))
    if fmt[0] != "MP3":
        if bitrate_kbps is not None:
            raise BadInputError(f"{final}: a bitrate ({bitrate_kbps} kbps) is for .mp3 output; "
                                f"{fmt[0]} is lossless and takes none")
        return None
    if "MP3" not in sf.available_formats():  # a system libsndfile older than 1.1, or without LAME
        raise BadInputError(f"{final}: this soundfile's libsndfile {sf.__libsndfile_version__} cannot "
                            "write MP3 (needs 1.1 or newer built with LAME, as in the soundfile wheels); "
                            "write .wav or .flac")
    version = MP3_VERSIONS.get(sample_rate)
    if version is None:
        raise BadInputError(f"{final}: MP3 cannot hold {sample_rate} Hz audio; use a sample rate of "
                            + ", ".join(str(r) for r in MP3_VERSIONS) + " Hz, or .wav / .flac")
    if channels not in (1, 2):
        raise BadInputError(f"{final}: MP3 holds 1 or 2 channels, not {channels}")
    name, bitrates, _ = version
    kbps = checks.whole(DEFAULT_MP3_KBPS if bitrate_kbps is None else bitrate_kbps,
                        f"{final}: MP3 bitrate in kbps at {sample_rate} Hz", bitrates[0], bitrates[-1])
    if kbps not in bitrates:
        raise BadInputError(f"{final}: {kbps} kbps is not an {name} layer III bitrate at "
                            f"{sample_rate} Hz; use one of {', '.join(map(str, bitrates))}")
    return kbps


def _mp3_compression_level(kbps: int, sample_rate: int) -> float:
    """soundfile's `compression_level` that makes libsndfile 1.2 ask LAME for `kbps` at constant
    bitrate. libsndfile (src/mpeg_l3_encode.c) turns a level c in [0, 1] into the integer part
    of top - c * (top - bottom) kbps (`MP3_VERSIONS`) and LAME rounds it to the nearest legal
    bitrate. Aiming at kbps + 0.5 makes the integer part exactly `kbps`, and keeps c below 1:
    soundfile sets the level while libsndfile is still in its default VBR mode, where 1.0 (VBR
    quality 10) is refused, and only then switches to constant bitrate."""
    top, bottom = MP3_VERSIONS[sample_rate][2]
    return min(1.0, max(0.0, (top - kbps - 0.5) / (top - bottom)))


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int,
                subtype: str | None = None, *, bitrate_kbps: int | None = None) -> None:
    """Write mono or (samples, channels) float audio in [-1, 1] to WAV, FLAC (16-bit PCM) or
    MP3 (MPEG layer III at a constant `bitrate_kbps`), chosen by suffix; see
    `check_audio_settings` for the MP3 sample rates and bitrates. A bitrate for a lossless format
    is refused. The MP3 default, `DEFAULT_MP3_KBPS` = 64 kbps, is legal and keeps the exact length
    (LAME's gapless tag fits its frames) at every MP3 sample rate, and on the model's 16 kHz notes
    keeps ~40 dB SNR below 6 kHz at a quarter of the size of WAV; the file is within ~2% of
    bitrate * duration (a header frame and the encoder delay).

    audio: (samples,) or (samples, channels) float; written atomically (nothing is left at
    `path` on any error). An MP3 decodes 0.45 dB quieter than the input up to 160 kbps (every
    bitrate at 16 kHz): LAME scales its input by 0.95 there (0.97 at 192, 0.98 at 224, 1.0 from
    256 kbps).
    """
    final = Path(path)
    audio = np.asarray(audio, dtype=np.float32)
    channels = 1 if audio.ndim == 1 else int(audio.shape[-1])
    kbps = check_audio_settings(final, sample_rate, bitrate_kbps, channels)
    fmt = AUDIO_FORMATS[final.suffix.lower()]
    if not np.all(np.isfinite(audio)):
        raise BadInputError(f"{final}: refusing to write audio containing NaN or Inf")
    options = ({} if kbps is None else
               {"compression_level": _mp3_compression_level(kbps, sample_rate),
                "bitrate_mode": "CONSTANT"})
    with atomic_path(final) as tmp:
        try:
            sf.write(str(tmp), audio, sample_rate, format=fmt[0], subtype=subtype or fmt[1],
                     **options)
        except sf.LibsndfileError as err:  # libsndfile reports a full disk as "System error"
            raise OSError(f"libsndfile: {err}; is the disk full?") from err
