"""Harmonic pitch templates: an optional second way to condition the generator on pitch.

The paper's generator sees pitch only as a one-hot beside z. To place harmonics at the right
frequency bins it has to learn, through translation-equivariant convolutions, an absolute
frequency position for every pitch; on the paper's budget (11M images) it does, on a CPU budget
(tens of thousands of images) it does not (docs/models.md). With `model.pitch_templates: true`
every generator block also receives, as two extra input channels, the normalized spectrogram of a
fixed reference tone at the asked pitch (log magnitude and instantaneous frequency, average-pooled
to the block's resolution). The generator still learns everything about the note (envelope,
spectral shape, noise, IF where it matters); the template only tells it where the partials of
that pitch lie and what their instantaneous frequency is.

The templates are a pure function of the spectral config and the pitch range, rebuilt when a
generator is built and never stored in a checkpoint or model file.
"""

from __future__ import annotations

import functools
import math

import torch

from gansynth.config import SpectralConfig
from gansynth.spectral.normalizer import Normalizer
from gansynth.spectral.transform import LOG_EPS, get_transform

TEMPLATE_CHANNELS = 2
# partials up to this fraction of the sample rate (below Nyquist, away from the mel top edge)
MAX_PARTIAL_FRACTION = 0.45
# template IF is set to 0 (no information) where the tone's magnitude is this far below its peak
IF_FLOOR_DB = 60.0
# the reference tone fades in over 10 ms, fades out over 0.25 s and is silent for the last
# 0.25 s (more than one STFT window), so that the template is silent at the end of the spectrogram
FADE_IN_S = 0.01
FADE_OUT_S = 0.25
SILENT_TAIL_S = 0.25


def reference_tones(pitches: torch.Tensor, length: int, sample_rate: int) -> torch.Tensor:
    """(P,) MIDI pitches -> (P, length) float64 steady harmonic tones: every partial k * f0 below
    0.45 sr at equal amplitude (a band-limited pulse train, summed in closed form:
    sum_{k=1..K} cos(k theta) = sin(K theta / 2) cos((K + 1) theta / 2) / sin(theta / 2)), peak
    0.5, no decay (every frame carries the pitch) apart from a 10 ms linear fade-in, and a linear
    fade-out over 0.25 s followed by 0.25 s of silence at the end."""
    t = torch.arange(length, dtype=torch.float64) / sample_rate  # (length,)
    f0 = 440.0 * 2.0 ** ((pitches.to(torch.float64) - 69.0) / 12.0)  # (P,)
    partials = torch.floor(MAX_PARTIAL_FRACTION * sample_rate / f0)  # (P,) K
    theta = torch.remainder(2 * math.pi * f0[:, None] * t, 2 * math.pi)  # (P, length)
    half = torch.sin(theta / 2)
    safe = torch.where(half.abs() < 1e-9, torch.ones_like(half), half)
    waves = torch.where(half.abs() < 1e-9, partials[:, None].expand_as(theta),
                        torch.sin(partials[:, None] * theta / 2) * torch.cos((partials[:, None] + 1) * theta / 2) / safe)
    fade_out = torch.clamp((length / sample_rate - SILENT_TAIL_S - t) / FADE_OUT_S, min=0.0, max=1.0)
    waves = waves * torch.clamp(t / FADE_IN_S, max=1.0) * fade_out
    return 0.5 * waves / waves.abs().amax(dim=1, keepdim=True)


def pitch_templates(spectral: SpectralConfig, pitch_min: int, pitch_max: int) -> torch.Tensor:
    """(P, 2, frames, bins) float32 templates for MIDI pitches pitch_min..pitch_max: the reference
    tones through the spectral transform, normalized with GANSynth's prespecified constants, the
    magnitude shifted so that silence (the log floor) is 0, and IF zeroed where the magnitude is
    more than 60 dB under the tone's peak. Silence is 0 in both channels because that is what the
    convolutions' zero padding shows beyond the spectrogram's edges: a template that sat at the
    normalized floor (-0.8) there made a step at the top frequency edge that the generator turned
    into a loud artifact in the top mel bin. A fresh copy of a cached result (about 1.5 s to
    compute for 61 pitches at the hires layout)."""
    return _pitch_templates(spectral, pitch_min, pitch_max).clone()


@functools.lru_cache(maxsize=2)
def _pitch_templates(spectral: SpectralConfig, pitch_min: int, pitch_max: int) -> torch.Tensor:
    pitches = torch.arange(pitch_min, pitch_max + 1)
    waves = reference_tones(pitches, spectral.audio_length, spectral.sample_rate)
    transform = get_transform(spectral)
    specgrams = torch.cat([transform(chunk) for chunk in waves.float().split(16)])  # (P, 2, frames, bins)
    log_mag = specgrams[:, 0]  # natural log of magnitude, or of mel power for if-mel
    floor = IF_FLOOR_DB * math.log(10) / (10 if spectral.representation == "if-mel" else 20)
    quiet = log_mag < log_mag.amax(dim=(1, 2), keepdim=True) - floor
    specgrams[:, 1] = torch.where(quiet, 0.0, specgrams[:, 1])
    normalizer = Normalizer.prespecified()
    templates = normalizer(specgrams.float()).clamp(-1.0, 1.0)
    silence = normalizer(torch.full((1, 2, 1, 1), math.log(LOG_EPS)))[0, 0, 0, 0]
    templates[:, 0] -= silence.clamp(-1.0, 1.0)
    return templates
