"""Training callbacks: stopping on a signal, atomic checkpointing by images seen, and EMA sample
logging.

`StopOnSignal` turns SIGINT (Ctrl-C) and SIGTERM into a stop at the end of the batch under way, so
that the run is saved in a consistent state (never in the middle of a step) and can be resumed.

`AtomicCheckpoint` writes `last.ckpt` (and a periodic `img{N}.ckpt` beside it) every
`every_images` images and whenever the trainer is about to stop (end of the schedule, a signal).
Each file is written under the temporary name `.<name>.partial`, flushed to disk, renamed, and the
folder flushed, so a killed process leaves either the previous or the new checkpoint, never a
partial one; the temporary files a kill leaves are removed at the next start or resume.

`ImagesProgressBar` is Lightning's progress bar showing the images seen and the schedule stage
from the module's host counters (a logged tensor would be read back from the GPU in every step).

`SampleLogger` renders EMA samples at fixed (z, pitch) every `every_images` images: spectrogram
images and audio go to TensorBoard, WAV and PNG files to `samples/`, and one row per sample to
`samples/samples.csv`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.utilities.exceptions import SIGTERMException

from gansynth.io import atomic_path, publish, write_audio
from gansynth.spectral import specgrams_to_waves
from gansynth.training.module import GANSynthModule

LAST_NAME = "last.ckpt"
# what a process killed while writing a checkpoint leaves: our `.<name>.partial` files and the
# `.<stem>.<random>.tmp.ckpt` files of earlier versions (written through gansynth.io.atomic_path)
LEFTOVER_PATTERNS = (".*.partial", ".*.tmp.ckpt")


def periodic_name(images_seen: int) -> str:
    """File name of the periodic checkpoint taken after `images_seen` images."""
    return f"img{images_seen:010d}.ckpt"


def partial_path(final: Path) -> Path:
    """The temporary name `final` is written under: `.<name>.partial` in the same folder."""
    return final.with_name(f".{final.name}.partial")


def _module(pl_module: L.LightningModule) -> GANSynthModule:
    if not isinstance(pl_module, GANSynthModule):
        raise TypeError(f"gansynth callbacks need a GANSynthModule, got {type(pl_module).__name__}")
    return pl_module


class ImagesProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, with "img" (images seen) and "stg" (schedule stage) read from the
    GANSynthModule's own counters, which live on the host."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, int | str | float | dict[str, float]]:
        items = super().get_metrics(trainer, pl_module)
        if isinstance(pl_module, GANSynthModule):
            items["img"] = pl_module.images_seen
            items["stg"] = pl_module.progress().stage
        return items


class StopOnSignal(Callback):
    """SIGINT and SIGTERM stop training at the end of the batch under way.

    The signal handler only records the signal (`signum`); at the end of the batch every rank is
    told to stop (the decision is reduced over ranks, so they stop after the same step), and
    `AtomicCheckpoint` saves there. A second SIGINT stops at once (KeyboardInterrupt), without
    saving. Use `with stop.catching():` around `trainer.fit`; a signal that was ignored when it
    started (SIGINT in a background job) stays ignored.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        if self.signum is None:
            self.signum = signum

    @contextlib.contextmanager
    def catching(self) -> Iterator[None]:
        """Record SIGINT / SIGTERM inside the block (main thread only); the previous handlers
        are restored afterwards."""
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                handler = signal.getsignal(signum)
                if handler is not signal.SIG_IGN:
                    previous[signum] = signal.SIG_DFL if handler is None else handler
                    signal.signal(signum, self._record)
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        requested = self.signum is not None
        if trainer.world_size > 1:
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if requested:
            trainer.should_stop = True


def write_copy(source: Path, target: Path) -> None:
    """Make `target` a copy of `source` (a hard link where the file system allows it), written
    under `partial_path(target)` and published."""
    tmp = partial_path(target)
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    publish(tmp, target)


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files (LEFTOVER_PATTERNS) that a process killed while writing a
    checkpoint left in `folder`; returns the removed paths."""
    removed = []
    for pattern in LEFTOVER_PATTERNS:
        for path in sorted(folder.glob(pattern)):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


class AtomicCheckpoint(Callback):
    """last.ckpt + periodic checkpoints every `every_images` images seen, written atomically.

    dirpath: checkpoint folder. keep_periodic: also keep `img{N}.ckpt` (a hard link to the same
    file when the filesystem allows it). A checkpoint records the name of its periodic copy, so
    that a resume from it can write a copy that a kill prevented.
    """

    def __init__(self, dirpath: str | os.PathLike[str], every_images: int, keep_periodic: bool = True) -> None:
        super().__init__()
        self.dirpath = Path(dirpath)
        self.every_images = every_images
        self.keep_periodic = keep_periodic
        self.saved_at = -1  # images seen at the latest checkpoint (or the resume point)
        self._periodic = ""  # name of the periodic copy of the checkpoint being written / resumed

    def state_dict(self) -> dict[str, Any]:
        return {"periodic": self._periodic}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._periodic = str(state_dict.get("periodic", ""))

    def save(self, trainer: L.Trainer, images_seen: int, periodic: bool) -> Path:
        """Write last.ckpt (all ranks must call this; rank 0 writes) and maybe a periodic copy."""
        final = self.dirpath / LAST_NAME
        self._periodic = periodic_name(images_seen) if periodic and self.keep_periodic else ""
        if trainer.is_global_zero:
            self.dirpath.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(partial_path(final), weights_only=False)  # collective; rank 0 writes
        if trainer.is_global_zero:
            publish(partial_path(final), final)
            if self._periodic:
                write_copy(final, self.dirpath / self._periodic)
        trainer.strategy.barrier("gansynth_checkpoint")
        self.saved_at = images_seen
        return final

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Remove what a killed process left; on resume, write the resumed checkpoint's periodic
        copy if a kill prevented it."""
        self.saved_at = _module(pl_module).images_seen
        if not trainer.is_global_zero or not self.dirpath.is_dir():
            return
        remove_leftovers(self.dirpath)
        resumed = Path(trainer.ckpt_path) if trainer.ckpt_path else None
        if resumed is not None and self._periodic and not (self.dirpath / self._periodic).exists():
            write_copy(resumed, self.dirpath / self._periodic)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        # save here when the trainer is about to stop: after a SIGTERM Lightning raises before
        # `on_train_end` runs
        seen = _module(pl_module).images_seen
        due = seen // self.every_images > max(self.saved_at, 0) // self.every_images
        if due or (trainer.should_stop and seen != self.saved_at):
            self.save(trainer, seen, periodic=due)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seen = _module(pl_module).images_seen
        if seen != self.saved_at:
            self.save(trainer, seen, periodic=False)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # Lightning stops on a SIGTERM that came after this batch's `on_train_batch_end` (during
        # the sample rendering, say) between batches, where the state is whole: save it
        seen = _module(pl_module).images_seen
        if isinstance(exception, SIGTERMException) and seen != self.saved_at:
            self.save(trainer, seen, periodic=False)


def fixed_sample_inputs(num_samples: int, latent_dim: int, pitch_min: int, pitch_max: int,
                        seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(z (N, latent_dim), MIDI pitch (N,)): seeded latents at pitches spread evenly over the range."""
    gen = torch.Generator().manual_seed(seed + 7919)
    z = torch.randn(num_samples, latent_dim, generator=gen)
    pitch = torch.linspace(pitch_min, pitch_max, max(num_samples, 1)).round().long()[:num_samples]
    return z, pitch


@torch.no_grad()
def render_ema_samples(module: GANSynthModule, z: torch.Tensor, pitch: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """EMA generator at the current block/alpha: returns (normalized specgrams (N, 2, H_b, W_b),
    audio (N, audio_length) float32) where the audio comes from the spectrogram upsampled (nearest)
    to the full resolution, denormalized and inverted."""
    p = module.progress()
    ema = module.generator_ema
    was_training = ema.training
    ema.eval()
    try:
        spec = ema(z.to(module.device), module.pitch_index(pitch).to(module.device), p.block, p.alpha)
    finally:
        ema.train(was_training)
    spec = spec.float()
    full = module.config.spectral.shape[1:]
    up = F.interpolate(spec, size=full, mode="nearest") if tuple(spec.shape[2:]) != full else spec
    audio = specgrams_to_waves(module.normalizer.denormalize(up), module.config.spectral)
    return spec.cpu(), audio.cpu()


def specgram_grid(spec: torch.Tensor) -> torch.Tensor:
    """(N, 2, frames, bins) in [-1, 1] -> (1, bins, N * 2 * frames + N - 1) image in [0, 1]:
    frequency upward, time to the right; per sample its log magnitude then its IF, samples
    separated by a white column."""
    cols = []
    for i in range(spec.shape[0]):
        col = torch.cat([spec[i, 0].T.flip(0), spec[i, 1].T.flip(0)], dim=1)  # (bins, 2 * frames)
        cols.append(col)
        if i < spec.shape[0] - 1:
            cols.append(torch.ones(col.shape[0], 1))
    grid = torch.cat(cols, dim=1) if cols else torch.zeros(1, 1)
    return ((grid.clamp(-1, 1) + 1) / 2).unsqueeze(0)


class SampleLogger(Callback):
    """Every `every_images` images (and at the end of the schedule): EMA samples at fixed (z, pitch) to
    TensorBoard (image + audio), `out_dir/<images>/` (PNG + WAV) and `out_dir/samples.csv`."""

    CSV_FIELDS = ("images_seen", "stage", "block", "alpha", "pitch", "wav", "png", "peak", "rms")

    def __init__(self, out_dir: str | os.PathLike[str], every_images: int, num_samples: int,
                 seed: int = 0) -> None:
        super().__init__()
        self.out_dir = Path(out_dir)
        self.every_images = every_images
        self.num_samples = num_samples
        self.seed = seed
        self._logged_at = -1

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._logged_at = _module(pl_module).images_seen

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        seen = _module(pl_module).images_seen
        if seen // self.every_images > max(self._logged_at, 0) // self.every_images:
            self.log_samples(trainer, _module(pl_module))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        module = _module(pl_module)  # final samples at the end of the schedule, not after a stop
        if module.images_seen != self._logged_at and module.progress().done:
            self.log_samples(trainer, module)

    def log_samples(self, trainer: L.Trainer, module: GANSynthModule) -> None:
        """Render and write one set of samples (rank 0 only)."""
        self._logged_at = module.images_seen
        if not trainer.is_global_zero or self.num_samples == 0:
            return
        cfg = module.config
        z, pitch = fixed_sample_inputs(self.num_samples, cfg.model.latent_dim, cfg.data.pitch_min,
                                       cfg.data.pitch_max, self.seed)
        spec, audio = render_ema_samples(module, z, pitch)
        p = module.progress()
        seen = module.images_seen
        folder = self.out_dir / f"img{seen:010d}"
        folder.mkdir(parents=True, exist_ok=True)
        grid = specgram_grid(spec)
        png = folder / "specgrams.png"
        _save_png(grid[0].numpy(), png)
        rows = []
        for i in range(self.num_samples):
            wav = folder / f"sample{i}_pitch{int(pitch[i])}.wav"
            clip = audio[i].clamp(-1, 1)
            write_audio(wav, clip.numpy(), cfg.spectral.sample_rate)
            rows.append({"images_seen": seen, "stage": p.stage, "block": p.block, "alpha": round(p.alpha, 6),
                         "pitch": int(pitch[i]), "wav": str(wav), "png": str(png),
                         "peak": round(float(audio[i].abs().max()), 6),
                         "rms": round(float(audio[i].pow(2).mean().sqrt()), 6)})
            for logger in trainer.loggers:
                add_audio = getattr(getattr(logger, "experiment", None), "add_audio", None)
                if callable(add_audio):  # TensorBoard
                    add_audio(f"samples/pitch{int(pitch[i])}_{i}", clip.unsqueeze(0), seen,
                              sample_rate=cfg.spectral.sample_rate)
        for logger in trainer.loggers:
            add_image = getattr(getattr(logger, "experiment", None), "add_image", None)
            if callable(add_image):
                add_image("samples/specgrams", grid, seen)
        self._append_csv(rows)

    def _append_csv(self, rows: list[dict[str, Any]]) -> None:
        path = self.out_dir / "samples.csv"
        old = path.read_text() if path.exists() else ""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.CSV_FIELDS)
        if not old:
            writer.writeheader()
        writer.writerows(rows)
        with atomic_path(path) as tmp:
            tmp.write_text(old + buf.getvalue())


def _save_png(image: Any, path: Path) -> None:
    """Write a (H, W) array in [0, 1] as a PNG (magma colormap), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        plt.imsave(tmp, image, cmap="magma", vmin=0.0, vmax=1.0, origin="upper")
