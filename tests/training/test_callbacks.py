"""Checkpoint files after a kill: the save routine publishes whole files only (flushed, renamed,
folder flushed), and what a kill leaves in the checkpoint folder (`.last.ckpt.partial`, 0-byte
`.img<N>.<random>.tmp.ckpt`, a missing periodic copy) is cleaned up or redone at the next start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gansynth.training.callbacks import (
    LAST_NAME,
    partial_path,
    periodic_name,
    publish,
    remove_leftovers,
    write_copy,
)
from gansynth.training.run import train
from tests.training.conftest import debug_config


def _images(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["gansynth"]["images_seen"])


def test_publish_and_copy_leave_whole_files_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    last = tmp_path / LAST_NAME
    last.write_bytes(b"old")
    tmp = partial_path(last)
    assert tmp == tmp_path / ".last.ckpt.partial"
    tmp.write_bytes(b"new checkpoint")
    # record (and still perform) every fsync, by what it flushed
    flushed: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    publish(tmp, last)
    assert last.read_bytes() == b"new checkpoint" and not tmp.exists()
    # the file is flushed before the rename (under its temporary name), the folder after it
    assert flushed == [str(tmp), str(tmp_path)]

    flushed.clear()
    target = tmp_path / periodic_name(16)
    partial_path(target).write_bytes(b"")  # a temporary file left by an earlier kill
    write_copy(last, target)
    assert target.read_bytes() == b"new checkpoint"
    assert not partial_path(target).exists()
    assert flushed[-1] == str(tmp_path)
    last.unlink()  # a hard link or a copy: the periodic file does not depend on last.ckpt
    assert target.read_bytes() == b"new checkpoint"

    # where hard links fail (some network and FAT file systems), a copy is written instead
    def no_links(src: object, dst: object) -> None:
        raise OSError("links not supported")

    monkeypatch.setattr(os, "link", no_links)
    write_copy(target, tmp_path / periodic_name(32))
    assert (tmp_path / periodic_name(32)).read_bytes() == b"new checkpoint"


def test_remove_leftovers_touches_only_temporary_files(tmp_path: Path) -> None:
    keep = [tmp_path / LAST_NAME, tmp_path / periodic_name(16), tmp_path / "notes.txt"]
    leftovers = [tmp_path / ".last.ckpt.partial", tmp_path / ".img0000000032.ckpt.partial",
                 tmp_path / ".img0000000032.k2j3h4.tmp.ckpt"]
    for path in keep + leftovers:
        path.write_bytes(b"")
    assert remove_leftovers(tmp_path) == sorted(leftovers[:2]) + leftovers[2:]
    assert sorted(tmp_path.iterdir()) == sorted(keep)


def test_resume_cleans_leftovers_and_writes_the_missing_periodic_copy(tmp_path: Path, gm_tiny_cache: str) -> None:
    run = tmp_path / "run"
    folder = run / "checkpoints"
    folder.mkdir(parents=True)
    # a first start killed while writing its first checkpoint left only a partial file behind:
    # a new run may start there, and the file is removed
    (folder / ".last.ckpt.partial").write_bytes(b"")
    train(debug_config(run, gm_tiny_cache, "schedule.max_images=32", "train.num_samples=0"), progress_bar=False)
    assert sorted(p.name for p in folder.iterdir()) == [periodic_name(16), periodic_name(32), LAST_NAME]

    # a kill during the periodic copy at 32 images: last.ckpt is renamed into place, the copy
    # exists only as 0-byte temporary files (old and new naming), and a save after it was cut short
    (folder / periodic_name(32)).unlink()
    planted = [folder / ".img0000000032.x8f2ka.tmp.ckpt", partial_path(folder / periodic_name(32)),
               folder / ".last.ckpt.partial"]
    for path in planted:
        path.write_bytes(b"")
    train(debug_config(run, gm_tiny_cache, "schedule.max_images=48", "train.num_samples=0"), resume=True,
          progress_bar=False)
    assert sorted(p.name for p in folder.iterdir()) == [periodic_name(n) for n in (16, 32, 48)] + [LAST_NAME]
    assert [_images(folder / periodic_name(n)) for n in (16, 32, 48)] == [16, 32, 48]
    assert _images(folder / LAST_NAME) == 48
