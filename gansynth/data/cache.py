"""The feature cache: a dataset's spectral features in one memory-mapped `.npy`, with an index.

Layout: `<cache>/<key>/features.npy` (N, 2, frames, bins) float32 or float16 and
`<cache>/<key>/index.json` (the spectral config, dtype, dataset path and fingerprint, the row of
each note id, the notes skipped as bad and the notes padded or cropped to the note length). `key` = "spec-" + a hash of the spectral config and dtype, so a run with another
spectral config looks in another folder and never reads features made for a different one; a
dataset whose examples.json (or TFRecord file) changed no longer matches the fingerprint and is
refused. Audio is read through the source, so a folder's notes may be WAV or FLAC (the same 16-bit
samples either way: converting a folder between the two keeps its cache valid). A cache folder is
built under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gansynth.config import SpectralConfig, config_to_dict
from gansynth.data.notes import BadDataReport, NoteSource, fail_or_skip
from gansynth.errors import BadInputError

CACHE_FORMAT = "gansynth-feature-cache"
CACHE_VERSION = 1
DTYPES = ("float32", "float16")


def cache_key(spectral: SpectralConfig, dtype: str = "float32") -> str:
    """Folder name of the features for one spectral config and storage dtype."""
    text = json.dumps({"spectral": config_to_dict(spectral), "dtype": dtype,
                       "version": CACHE_VERSION}, sort_keys=True)
    return f"spec-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def build_cache(source: NoteSource, indices: Sequence[int], spectral: SpectralConfig,
                cache_dir: str | os.PathLike[str], dtype: str = "float32", batch_size: int = 16,
                skip_bad: bool = False, progress: bool = True) -> tuple[Path, BadDataReport]:
    """Compute the features of `source.notes[i]` for i in `indices` into `cache_dir/<key>/`.

    Returns the folder and the report of notes skipped as bad (with `skip_bad`; otherwise the first
    unreadable note raises BadInputError and nothing is left behind). Notes the source padded or
    cropped (`source.report.fitted`) are recorded in the index, so training from the cache counts them.
    """
    import torch
    from tqdm import tqdm

    from gansynth.spectral import waves_to_specgrams

    if dtype not in DTYPES:
        raise BadInputError(f"cache dtype {dtype!r} is not one of {DTYPES}")
    root = Path(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    key = cache_key(spectral, dtype)
    final = root / key
    tmp = root / f".{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    report = BadDataReport()
    try:
        shape = (len(indices), *spectral.shape)
        features = np.lib.format.open_memmap(tmp / "features.npy", mode="w+", dtype=dtype, shape=shape)
        rows: dict[str, int] = {}
        bad: list[str] = []
        bar = tqdm(total=len(indices), desc="caching features", unit="note", disable=not progress)
        for start in range(0, len(indices), batch_size):
            chunk = list(range(start, min(start + batch_size, len(indices))))
            waves, good = [], []
            for row in chunk:
                meta = source.notes[indices[row]]
                try:
                    waves.append(source.load_audio(indices[row]))
                    good.append(row)
                except BadInputError as err:
                    fail_or_skip(report if skip_bad else None, "bad audio", str(err))
                    bad.append(meta.note_str)
            if good:
                with torch.no_grad():
                    specgrams = waves_to_specgrams(torch.from_numpy(np.stack(waves)), spectral)
                features[good] = specgrams.numpy().astype(dtype)  # (b, 2, frames, bins)
                for row in good:
                    rows[source.notes[indices[row]].note_str] = row
            bar.update(len(chunk))
        bar.close()
        features.flush()
        del features
        index = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "spectral": config_to_dict(spectral),
                 "dtype": dtype, "shape": list(shape), "dataset": str(source.path),
                 "fingerprint": source.fingerprint(), "rows": rows, "bad": bad,
                 "fitted": {k: v for k, v in source.report.fitted.items() if k in rows}}
        (tmp / "index.json").write_text(json.dumps(index) + "\n")
        old = root / f".{key}.old-{os.getpid()}"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, report


@dataclass
class FeatureCache:
    """An opened cache folder: `rows` maps note ids to rows of the memory-mapped features; `bad`
    holds the notes skipped as unreadable, `fitted` the notes padded ("short audio") or cropped
    ("long audio") when the cache was built."""

    folder: Path
    rows: dict[str, int]
    bad: set[str]
    dtype: str
    fitted: dict[str, str] = field(default_factory=dict)
    _features: np.ndarray | None = None

    def features(self) -> np.ndarray:
        """(N, 2, frames, bins) read-only memory map (opened lazily, once per process)."""
        if self._features is None:
            self._features = np.load(self.folder / "features.npy", mmap_mode="r")
        return self._features

    def get(self, note_str: str) -> np.ndarray:
        """(2, frames, bins) float32 features of one note."""
        return np.array(self.features()[self.rows[note_str]], dtype=np.float32)  # a writable copy

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers reopen the memory map
        state = dict(self.__dict__)
        state["_features"] = None
        return state


def open_cache(cache_dir: str | os.PathLike[str], spectral: SpectralConfig, source: NoteSource,
               dtype: str | None = None) -> FeatureCache:
    """Open the features of `spectral` for `source` in `cache_dir`, checking they are current.

    dtype None takes whichever of float32 / float16 exists (float32 first).
    """
    root = Path(cache_dir)
    hint = (f"build it with `gansynth data cache` from {source.path} into {root}, with the same "
            "spectral config")
    candidates = [dtype] if dtype else list(DTYPES)
    folder = next((root / cache_key(spectral, d) for d in candidates
                   if (root / cache_key(spectral, d) / "index.json").is_file()), None)
    if folder is None:
        raise BadInputError(f"{root}: no cached features for this spectral config "
                            f"({spectral.representation}/{spectral.layout}); {hint}")
    try:
        index = json.loads((folder / "index.json").read_text())
    except json.JSONDecodeError as err:
        raise BadInputError(f"{folder / 'index.json'}: not valid JSON; delete {folder} and {hint}") from err
    if index.get("format") != CACHE_FORMAT or index.get("version") != CACHE_VERSION:
        raise BadInputError(f"{folder}: not a gansynth feature cache of version {CACHE_VERSION}; "
                            f"delete it and {hint}")
    if index.get("spectral") != config_to_dict(spectral):
        raise BadInputError(f"{folder}: made for another spectral config; delete it and {hint}")
    if index.get("fingerprint") != source.fingerprint():
        raise BadInputError(f"{folder}: stale, the dataset {source.path} changed since the cache was "
                            f"built ({index.get('fingerprint')} vs {source.fingerprint()}); {hint}")
    return FeatureCache(folder=folder, rows={k: int(v) for k, v in index["rows"].items()},
                        bad=set(index.get("bad", [])), dtype=str(index["dtype"]),
                        fitted={str(k): str(v) for k, v in index.get("fitted", {}).items()})
