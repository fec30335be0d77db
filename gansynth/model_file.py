"""The one safe reader and writer of the project's torch files (model files and training
checkpoints).

Every file is read with `torch.load(weights_only=True)`, which refuses any pickled object other
than tensors and plain containers, so loading never runs code from the file. An exported model file
is a dict with a header, ``{"format": NAME, "format_version": N, ...}``; `read_model_file` checks the
header and the keys, and `strict_load` puts weights into a module with nothing missing and nothing
left over. Every failure is one `BadInputError` naming the file.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from gansynth.errors import BadInputError
from gansynth.io import atomic_path, require_file

# what each format of the project is, to name a file given in the wrong place
FORMAT_NAMES = {"gansynth-model": "gansynth GAN model file (for note, interpolate, render)",
                "gansynth-lstm": "gansynth sequence (LSTM) model file (for compose)",
                "gansynth-autoencoder": "gansynth sequence auto-encoder file (for encode, reconstruct, "
                                        "compose --blend / --interpolate / --latent)"}


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def load_plain(path: str | os.PathLike[str], what: str) -> Any:
    """torch.load(weights_only=True) of `path` onto the CPU; every failure (missing, corrupt, or a
    pickle holding anything but tensors and plain containers) raises BadInputError naming the file
    as not a valid `what`."""
    p = require_file(path, what)
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message advises loading again with weights_only=False: never pass that on
        if "GLOBAL" in str(err) or _is_pickle(p):
            raise BadInputError(f"{p}: not a {what}: it holds pickled objects other than tensors "
                                "and plain containers, which are refused because loading them "
                                "could run code") from err
        raise BadInputError(f"{p}: not a {what} (not a file written by torch.save)") from err
    except (RuntimeError, EOFError, OSError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, UnicodeDecodeError, zipfile.BadZipFile) as err:
        raise BadInputError(f"{p}: not a {what} (unreadable: {_first_line(err)})") from err


def _is_pickle(path: Path) -> bool:
    """True when the file starts like a pickle of protocol 2 or later (b"\\x80", protocol)."""
    with path.open("rb") as handle:
        head = handle.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def write_model_file(path: str | os.PathLike[str], format_name: str, format_version: int,
                     content: Mapping[str, Any]) -> Path:
    """`torch.save` the header {"format", "format_version"} plus `content` (plain data and
    tensors only) to `path`, atomically."""
    payload = {"format": format_name, "format_version": format_version, **content}
    out = Path(path)
    with atomic_path(out) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError as err:  # torch reports a failed write (a full disk) this way
            raise OSError(f"torch.save failed: {_first_line(err)}; is the disk full?") from err
    return out


def read_model_file(path: str | os.PathLike[str], format_name: str, format_version: int,
                    keys: frozenset[str], what: str, hint: str = "") -> dict[str, Any]:
    """Read a file written by `write_model_file` and check it: a dict whose "format" is
    `format_name`, whose "format_version" is `format_version`, and which holds exactly `keys`
    (the header included). `what` names the kind of file in messages; `hint` is added to the
    message for a file that is not of this format (how to make one)."""
    p = Path(path)
    data = load_plain(p, what)
    found = data.get("format") if isinstance(data, dict) else None
    if found != format_name:
        if isinstance(found, str) and found in FORMAT_NAMES:
            raise BadInputError(f"{p}: this is a {FORMAT_NAMES[found]}, not a {what}")
        if isinstance(data, dict) and "state_dict" in data and "hyper_parameters" in data:
            raise BadInputError(f"{p}: this is a Lightning training checkpoint, not a {what}{hint}")
        raise BadInputError(f"{p}: not a {what} (format is not {format_name!r}){hint}")
    version = data.get("format_version", data.get("version"))
    if version != format_version:
        raise BadInputError(f"{p}: {what} format version {version!r} is not supported (this gansynth "
                            f"reads version {format_version}); export the model again with this gansynth")
    missing, unexpected = sorted(keys - set(data)), sorted(set(data) - keys)
    if missing:
        raise BadInputError(f"{p}: {what} lacks {', '.join(missing)}")
    if unexpected:
        raise BadInputError(f"{p}: {what} has unexpected keys {', '.join(unexpected)}")
    return data


def strict_load(module: torch.nn.Module, state: Any, path: str | os.PathLike[str], what: str) -> None:
    """Load `state` into `module` with nothing missing and nothing unexpected; a mismatch raises
    BadInputError naming `path` and the first differing keys or shapes."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInputError(f"{path}: {what} is not a mapping of tensors")
    expected = set(module.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise BadInputError(f"{path}: {what} do not match the stored config (missing: "
                            f"{', '.join(missing[:3]) or 'none'}; unexpected: {', '.join(unexpected[:3]) or 'none'})")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = " ".join(line.strip() for line in str(err).strip().splitlines()[1:3])
        raise BadInputError(f"{path}: {what} do not match the stored config ({detail})") from err
