"""waves <-> spectrograms in the GANSynth representations, as a module holding its window and
mel matrices as buffers, plus functional wrappers."""

from __future__ import annotations

import math

import torch
from torch import nn

from gansynth.config import SpectralConfig
from gansynth.spectral import mel
from gansynth.spectral.stft import ifreq_to_phase, istft, phase_to_ifreq, stft

LOG_EPS = 1e-6


class SpectralTransform(nn.Module):
    """Forward: (B, samples) audio -> (B, 2, frames, bins); `inverse` goes back.

    Channel 0: log magnitude log(|S| + 1e-6), or for `if-mel` log mel power
    log(|S|^2 @ W + 1e-6). Channel 1: wrapped phase / pi (`phase`), instantaneous frequency
    (`if`), or mel IF (`if-mel`: IF of (unwrapped phase @ W)).
    """

    window: torch.Tensor
    to_mel: torch.Tensor
    from_mel: torch.Tensor

    def __init__(self, config: SpectralConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", torch.hann_window(config.n_fft, dtype=torch.float64),
                             persistent=False)
        if config.representation == "if-mel":
            to_mel = mel.linear_to_mel_matrix(config.bins, config.sample_rate)
            from_mel = mel.mel_to_linear_matrix(config.bins, config.sample_rate)
        else:
            to_mel = from_mel = torch.zeros(0, 0).numpy()
        self.register_buffer("to_mel", torch.as_tensor(to_mel, dtype=torch.float32), persistent=False)
        self.register_buffer("from_mel", torch.as_tensor(from_mel, dtype=torch.float32),
                             persistent=False)

    def _check_waves(self, waves: torch.Tensor) -> torch.Tensor:
        if waves.dim() == 1:
            waves = waves.unsqueeze(0)
        if waves.dim() != 2 or waves.shape[1] != self.config.audio_length:
            raise ValueError(f"expected audio of shape (B, {self.config.audio_length}), got {tuple(waves.shape)}")
        return waves if waves.dtype == torch.float64 else waves.float()

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        """waves: (B, audio_length) float32 in [-1, 1] at `sample_rate` -> (B, 2, frames, bins).

        float64 input is computed in float64 (for reference comparisons); anything else in float32.
        """
        c = self.config
        waves = self._check_waves(waves)
        spec = stft(waves, self.window.to(waves.dtype), c.n_fft, c.hop, c.pad)  # (B, frames, bins)
        mag = spec.abs()
        phase = torch.angle(spec)
        if c.representation == "phase":
            channels = (torch.log(mag + LOG_EPS), phase / math.pi)
        elif c.representation == "if":
            channels = (torch.log(mag + LOG_EPS), phase_to_ifreq(phase))
        else:
            unwrapped = ifreq_to_phase(phase_to_ifreq(phase))
            to_mel = self.to_mel.to(waves.dtype)
            mel_power = (mag * mag) @ to_mel
            channels = (torch.log(mel_power + LOG_EPS), phase_to_ifreq(unwrapped @ to_mel))
        return torch.stack(channels, dim=1)  # (B, 2, frames, bins)

    def inverse(self, specgrams: torch.Tensor) -> torch.Tensor:
        """specgrams: (B, 2, frames, bins) -> (B, audio_length) float32 audio."""
        c = self.config
        if specgrams.dim() != 4 or tuple(specgrams.shape[1:]) != c.shape:
            raise ValueError(f"expected spectrograms of shape (B, {c.shape[0]}, {c.shape[1]}, {c.shape[2]}), "
                             f"got {tuple(specgrams.shape)}")
        specgrams = specgrams.float()
        first, second = specgrams[:, 0], specgrams[:, 1]  # (B, frames, bins)
        if c.representation == "phase":
            logmag, phase = first, second * math.pi
        elif c.representation == "if":
            logmag, phase = first, ifreq_to_phase(second)
        else:
            logmag = 0.5 * torch.log(torch.exp(first) @ self.from_mel + LOG_EPS)
            phase = ifreq_to_phase(second) @ self.from_mel  # equal, modulo 2 pi, to its IF's cumsum
        mag = torch.exp(logmag)
        spec = torch.polar(mag, phase)  # (B, frames, bins) complex
        return istft(spec, self.window.float(), c.n_fft, c.hop, c.pad, c.audio_length)


_TRANSFORMS: dict[tuple[SpectralConfig, str], SpectralTransform] = {}


def get_transform(config: SpectralConfig, device: torch.device | str = "cpu") -> SpectralTransform:
    """A cached `SpectralTransform` for (config, device): the mel matrices are built once."""
    key = (config, str(torch.device(device)))
    if key not in _TRANSFORMS:
        _TRANSFORMS[key] = SpectralTransform(config).to(device)
    return _TRANSFORMS[key]


def waves_to_specgrams(waves: torch.Tensor, config: SpectralConfig) -> torch.Tensor:
    """(B, audio_length) float32 audio in [-1, 1] -> (B, 2, frames, bins) on the same device."""
    return get_transform(config, waves.device)(waves)


def specgrams_to_waves(specgrams: torch.Tensor, config: SpectralConfig) -> torch.Tensor:
    """(B, 2, frames, bins) -> (B, audio_length) float32 audio on the same device."""
    return get_transform(config, specgrams.device).inverse(specgrams)
