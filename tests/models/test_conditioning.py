"""Harmonic pitch templates: the reference tone's partials, the templates' layout, and the
generator's use of them (per-pitch, pooled per block, never in the state dict)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gansynth.checkpoint import export_model, load_model
from gansynth.config import ExperimentConfig, SpectralConfig, config_from_dict
from gansynth.errors import ConfigError
from gansynth.models import Generator, build_generator
from gansynth.models.conditioning import pitch_templates, reference_tones
from gansynth.training.run import train
from tests.training.tones import ToneDataModule

SR = 16000


@pytest.mark.parametrize("pitch", [24, 60, 84])
def test_reference_tone_has_equal_partials_at_multiples_of_f0(pitch: int) -> None:
    full = reference_tones(torch.tensor([pitch]), 4 * SR, SR)[0].numpy()
    assert abs(np.abs(full).max() - 0.5) < 1e-9
    assert np.all(full[-SR // 4:] == 0) and np.abs(full[-SR // 2:-SR // 4]).max() < 0.5  # fade-out, silent tail
    wave = full[SR:2 * SR]  # one steady second: 1 Hz FFT bins
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(SR)))
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    count = int(0.45 * SR / f0)
    partials = np.array([spectrum[int(round(k * f0)) - 2:int(round(k * f0)) + 3].max()
                         for k in range(1, count + 1)])
    # equal amplitudes (within the Hann window's scalloping loss of 1.4 dB)
    assert partials.min() > 0.8 * partials.max()
    # nothing between the partials or above the last one, apart from window leakage
    between = [spectrum[int(round((k + 0.5) * f0))] for k in range(1, count)]
    assert max(between) < 1e-3 * partials.max()
    assert spectrum[int(0.46 * SR):].max() < 1e-3 * partials.max()


def test_templates_layout_and_pitch_order() -> None:
    spectral = SpectralConfig(representation="if-mel", layout="hires")
    templates = pitch_templates(spectral, 24, 84)
    assert templates.shape == (61, 2, 128, 1024) and templates.dtype == torch.float32
    # silence is 0 in both channels, as the zero padding beyond the edges: no step at the first
    # and last frames (the tone fades in and ends in silence) nor at the top bins
    assert float(templates[:, 0].min()) == 0.0 and float(templates[:, 0].max()) < 2.0
    assert float(templates[:, :, 0].abs().max()) == 0.0 and float(templates[:, :, -4:].abs().max()) == 0.0
    assert float(templates[:, 0, 8:120, -4:].max()) < 0.3 < float(templates[:, 0, 8:120].max())
    assert float(templates[:, 1].abs().max()) <= 0.8
    # the lowest loud mel bin (the fundamental) moves up with the pitch
    profile = templates[:, 0, 8:120].mean(dim=1)  # (61, bins), steady frames
    loud = profile > profile.amax(dim=1, keepdim=True) - 0.3
    lowest = loud.float().argmax(dim=1)
    assert torch.all(lowest[1:] >= lowest[:-1]) and int(lowest[-1]) > int(lowest[0]) + 100
    # IF carries information only where the tone has energy
    quiet = templates[:, 0] < 0.05
    assert float(templates[:, 1][quiet].abs().mean()) < 0.05
    assert float(templates[:, 1][~quiet].abs().mean()) > 0.05
    # a fresh copy each call: changing one leaves the cache alone
    templates.zero_()
    assert float(pitch_templates(spectral, 24, 84).abs().max()) > 0.5


def test_generator_uses_the_asked_pitchs_template_at_every_block() -> None:
    channels = (8, 8, 4, 4, 4, 4, 4)
    templates = torch.zeros(3, 2, 128, 1024)
    g = Generator(latent_dim=8, num_pitches=3, channels=channels, templates=templates.clone())
    assert "templates" not in g.state_dict()
    assert g.blocks[0].conv1.conv.weight.shape[1] == 8 + 2 and g.blocks[3].conv0.conv.weight.shape[1] == 4 + 2
    z = torch.randn(2, 8)
    pitch = torch.tensor([0, 1])
    for block in range(len(channels)):
        before = g(z, pitch, block)
        g.templates[2] = torch.rand(2, 128, 1024)  # a pitch not in the batch: no effect
        assert torch.equal(g(z, pitch, block), before)
        g.templates[1] = torch.rand(2, 128, 1024)  # the second example's pitch: only it changes
        after = g(z, pitch, block)
        assert torch.equal(after[0], before[0]) and not torch.allclose(after[1], before[1])
        g.templates.zero_()
    # what block 2 sees is the template average-pooled to its 8 x 64 resolution
    seen = {}
    g.templates[0] = torch.rand(2, 128, 1024)
    hook = g.blocks[2].conv0.register_forward_pre_hook(lambda _m, args: seen.update(x=args[0]))
    g(z[:1], pitch[:1], 2)
    hook.remove()
    assert torch.allclose(seen["x"][0, -2:], F.avg_pool2d(g.templates[0:1], 16)[0], atol=1e-6)


def test_generator_refuses_templates_of_the_wrong_shape() -> None:
    with pytest.raises(ConfigError, match="pitch templates must be"):
        Generator(latent_dim=8, num_pitches=3, channels=(4, 4), templates=torch.zeros(3, 2, 8, 64))


def test_export_load_with_templates_is_identical(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    config = config_from_dict(ExperimentConfig, {
        "model": {"latent_dim": 8, "channels": [4, 4, 4, 4, 4, 2, 2], "pitch_templates": True},
        "schedule": {"stage_images": 4, "max_images": 8},
        "train": {"batch_size": 4, "num_samples": 0},
        "trainer": {"accelerator": "cpu", "devices": 1}, "output": str(tmp_path / "run")})
    module = train(config, datamodule=ToneDataModule(config.spectral, 4), progress_bar=False)
    model = load_model(export_model(tmp_path / "run" / "checkpoints" / "last.ckpt", tmp_path / "m.pt"))
    assert model.generator.templates is not None
    assert "templates" not in torch.load(tmp_path / "m.pt", weights_only=True)["generator"]
    z, pitch = torch.randn(2, 8), torch.tensor([30, 70])
    with torch.no_grad():
        expected = module.normalizer.denormalize(module.generator_ema.eval()(z, pitch - 24, 6, 1.0))
    assert torch.equal(model.generate_specgrams(z, pitch), expected)
    assert isinstance(build_generator(config).templates, torch.Tensor)
