"""Export a training checkpoint to the inference file, and load that file strictly.

Inference file (`torch.save` of plain data only, DESIGN.md section 4):
    {"format": "gansynth-model", "format_version": 1, "config": resolved ExperimentConfig dict,
     "generator": EMA generator state_dict, "normalizer": {"a", "b"}, "pitch_min", "pitch_max",
     "meta": {"images_seen", "stage", "source", "pitch_distribution", versions, ...}}

Both kinds of files are read with `torch.load(weights_only=True)`, which refuses any pickled
object other than tensors and plain containers, so loading never runs code from the file.
Anything unexpected raises `BadInputError` naming the file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from gansynth import __version__
from gansynth.config import ExperimentConfig, SpectralConfig, config_from_dict, config_to_dict
from gansynth.errors import BadInputError, ConfigError
from gansynth.io import check_output
from gansynth.level import measure_output_gain
from gansynth.model_file import read_model_file, strict_load, write_model_file
from gansynth.models import Generator, build_generator
from gansynth.spectral import Normalizer, specgrams_to_waves
from gansynth.training.checkpoint_file import read_training_checkpoint

FORMAT = "gansynth-model"
FORMAT_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "models" / "gansynth_gm_small.pt"
MODEL_KEYS = frozenset({"format", "format_version", "config", "generator", "normalizer", "pitch_min",
                        "pitch_max", "meta"})


def _experiment_config(data: Any, path: Path) -> ExperimentConfig:
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: the stored config is not a mapping")
    try:
        return config_from_dict(ExperimentConfig, data)
    except ConfigError as err:
        raise BadInputError(f"{path}: invalid stored config ({err})") from err


def export_model(ckpt_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Write the inference file of the training checkpoint `ckpt_path` to `out_path` (atomically).

    Keeps the resolved config, the EMA generator weights, the normalizer and the pitch range;
    drops the discriminator, the raw generator and the optimizer states. `out_path` must end in
    `.pt` and be writable (checked before the checkpoint is read); a failed write (a full disk)
    raises BadInputError naming it.
    """
    out = check_output(out_path, (".pt",), "model file")
    ckpt = read_training_checkpoint(ckpt_path)
    src, config = ckpt.path, ckpt.config
    gen_state = {k: v.detach().cpu().contiguous() for k, v in ckpt.weights("generator_ema.").items()}
    generator = build_generator(config)
    strict_load(generator, gen_state, src, "the EMA generator weights")
    try:
        normalizer = Normalizer(ckpt.state_dict["normalizer.a"], ckpt.state_dict["normalizer.b"])
    except (KeyError, ValueError) as err:
        raise BadInputError(f"{src}: checkpoint has no valid normalizer ({err})") from err
    pitch_probs = ckpt.state_dict.get("pitch_probs")
    meta = {
        "images_seen": ckpt.images_seen,
        "stage": ckpt.stage,
        "source": src.name,
        "pitch_distribution": pitch_probs.float().tolist() if isinstance(pitch_probs, torch.Tensor) else [],
        "gansynth_version": str(__version__),
        "torch_version": str(torch.__version__),
    }
    meta["output_gain"] = measure_output_gain(GeneratorModel(config, generator, normalizer))
    return write_model_file(out, FORMAT, FORMAT_VERSION, {
        "config": config_to_dict(config),
        "generator": gen_state,
        "normalizer": normalizer.to_plain(),
        "pitch_min": config.data.pitch_min,
        "pitch_max": config.data.pitch_max,
        "meta": meta,
    })


class GeneratorModel:
    """An exported GANSynth generator ready to render notes (the `NoteModel` of gansynth.synth).

    Attributes: sample_rate (Hz), note_length (samples), latent_dim, pitch_min/pitch_max (MIDI),
    spectral (SpectralConfig), config (ExperimentConfig), meta (dict), device.
    """

    def __init__(self, config: ExperimentConfig, generator: Generator, normalizer: Normalizer,
                 meta: dict[str, Any] | None = None) -> None:
        self.config = config
        self.spectral: SpectralConfig = config.spectral
        self.sample_rate = config.spectral.sample_rate
        self.note_length = config.spectral.audio_length
        self.latent_dim = config.model.latent_dim
        self.pitch_min = config.data.pitch_min
        self.pitch_max = config.data.pitch_max
        # channels-last activations: faster convolutions with few channels (as in training)
        self.generator = generator.eval().requires_grad_(False)
        self.generator.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.normalizer = normalizer
        self.meta = dict(meta or {})
        self.device = torch.device("cpu")
        self._flops: int | None = None

    @property
    def output_gain(self) -> float | None:
        """The output calibration stored at export (see `Synthesizer.output_gain`), or None."""
        gain = self.meta.get("output_gain")
        return float(gain) if isinstance(gain, (int, float)) else None

    def to(self, device: torch.device | str) -> GeneratorModel:
        """Move the weights to `device` (in place); returns self."""
        self.device = torch.device(device)
        self.generator.to(self.device)
        self.normalizer.to(self.device)
        return self

    @torch.no_grad()
    def generate_specgrams(self, z: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) float32; pitch: (B,) int64 MIDI pitch -> (B, 2, frames, bins) raw
        (denormalized) spectrograms from the final block at alpha 1."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (B, {self.latent_dim}), got {tuple(z.shape)}")
        if pitch.shape != (z.shape[0],):
            raise ValueError(f"pitch must be ({z.shape[0]},) MIDI pitches, got {tuple(pitch.shape)}")
        if pitch.numel() and (int(pitch.min()) < self.pitch_min or int(pitch.max()) > self.pitch_max):
            bad = int(pitch.min()) if int(pitch.min()) < self.pitch_min else int(pitch.max())
            raise BadInputError(f"MIDI pitch {bad} is outside the model's range {self.pitch_min}..{self.pitch_max}")
        index = (pitch.long() - self.pitch_min).to(self.device)
        spec = self.generator(z.to(self.device, torch.float32), index, self.generator.num_blocks - 1, 1.0)
        return self.normalizer.denormalize(spec.float().contiguous())

    @torch.no_grad()
    def generate(self, z: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) float32 ~ N(0, 1); pitch: (B,) int64 MIDI pitch in
        [pitch_min, pitch_max] -> (B, note_length) float32 audio at `sample_rate` (EMA weights,
        eval mode, no gradient)."""
        return specgrams_to_waves(self.generate_specgrams(z, pitch), self.spectral)

    def flops_per_note(self) -> int:
        """Floating-point operations to render one note: 2 x the multiply-adds of one generator
        forward (every conv and dense layer, counted from a traced forward) plus an estimate of the
        inverse transform (mel -> linear products for if-mel, inverse FFTs: 5 N log2 N per frame)."""
        if self._flops is None:
            macs = 0

            def hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
                nonlocal macs
                weight = getattr(module, "weight", None)
                if isinstance(weight, torch.Tensor) and weight.dim() in (2, 4):
                    macs += output.numel() * (weight[0].numel())

            handles = [m.register_forward_hook(hook) for m in self.generator.modules()
                       if isinstance(getattr(m, "weight", None), torch.Tensor) and not list(m.children())]
            try:
                with torch.no_grad():
                    z = torch.zeros(1, self.latent_dim, device=self.device)
                    self.generator(z, torch.zeros(1, dtype=torch.long, device=self.device),
                                   self.generator.num_blocks - 1, 1.0)
            finally:
                for h in handles:
                    h.remove()
            c = self.spectral
            frames, bins = c.frames, c.bins
            inverse = int(5 * frames * c.n_fft * math.log2(c.n_fft))
            if c.representation == "if-mel":
                inverse += 2 * 2 * frames * bins * bins  # magnitude and phase through the mel inverse
            self._flops = 2 * macs + inverse
        return self._flops


def load_model(path: str | os.PathLike[str] | None = None, device: torch.device | str = "cpu") -> GeneratorModel:
    """Load an inference file written by `export_model` (None: the shipped default model).

    Reads with torch.load(weights_only=True) and strict state-dict loading; a file that is not a
    gansynth model, from a newer format, or inconsistent raises BadInputError naming the file.
    """
    p = Path(path) if path is not None else DEFAULT_MODEL_PATH
    if path is None and not p.is_file():
        raise BadInputError(f"{p}: the default model is missing; train one (`gansynth train --config "
                            f"recipes/gm_small.yaml`) and export it (`gansynth export RUN.ckpt -o {p}`), "
                            "or pass the path of an exported model")
    data = read_model_file(p, FORMAT, FORMAT_VERSION, MODEL_KEYS, "gansynth model file",
                           hint="; `gansynth export` makes one from a training checkpoint")
    config = _experiment_config(data["config"], p)
    if (data["pitch_min"], data["pitch_max"]) != (config.data.pitch_min, config.data.pitch_max):
        raise BadInputError(f"{p}: pitch range {data['pitch_min']}..{data['pitch_max']} disagrees with its config")
    generator = build_generator(config)
    strict_load(generator, data["generator"], p, "the generator weights")
    norm = data["normalizer"]
    try:
        normalizer = Normalizer.from_plain(norm)
    except (ValueError, TypeError) as err:
        raise BadInputError(f"{p}: invalid normalizer ({err})") from err
    meta = data["meta"] if isinstance(data["meta"], dict) else {}
    return GeneratorModel(config, generator, normalizer, meta).to(device)
