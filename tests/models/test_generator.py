"""Generator: shapes per block, fade-in, gradient reach, equalized-lr gains, parameter count."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gansynth.config import PAPER_GAN_CHANNELS as PAPER_CHANNELS
from gansynth.errors import ConfigError
from gansynth.models import Generator

TINY = (8, 8, 4, 4)


def _inputs(g: Generator, batch: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(batch, g.latent_dim)
    pitch = torch.randint(0, g.num_pitches, (batch,))
    return z, pitch


@pytest.mark.parametrize("block", range(len(TINY)))
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_shapes_every_block(block: int, alpha: float) -> None:
    g = Generator(latent_dim=16, num_pitches=5, channels=TINY)
    z, pitch = _inputs(g)
    y = g(z, pitch, block, alpha)
    assert y.shape == (3, 2, 2 * 2**block, 16 * 2**block)
    assert torch.all(y.abs() < 1)  # tanh range


def test_small_table_resolutions() -> None:
    g = Generator(latent_dim=8, num_pitches=3, channels=(32, 32, 16))
    assert g.num_blocks == 3
    z, pitch = _inputs(g, 2)
    shapes = [tuple(g(z, pitch, k).shape[2:]) for k in range(3)]
    assert shapes == [(2, 16), (4, 32), (8, 64)]
    with pytest.raises(ValueError, match="block"):
        g(z, pitch, 3)


def test_paper_table_low_blocks() -> None:
    g = Generator()
    assert g.num_blocks == 7 and g.channels == (256, 256, 256, 256, 128, 64, 32)
    assert [g.output_shape(k) for k in (0, 6)] == [(2, 2, 16), (2, 128, 1024)]
    z, pitch = torch.randn(1, 256), torch.tensor([60])
    with torch.no_grad():
        for block in range(3):
            assert g(z, pitch, block, 0.5).shape == (1, 2, 2 * 2**block, 16 * 2**block)


def test_paper_parameter_count_matches_table() -> None:
    g = Generator()
    ch = PAPER_CHANNELS
    expected = (317 * 2 * 16 + 1) * ch[0] + (9 * ch[0] + 1) * ch[0]  # block 0: (2,16) conv, 3x3 conv
    expected += sum((9 * ch[k - 1] + 1) * ch[k] + (9 * ch[k] + 1) * ch[k] for k in range(1, 7))
    expected += sum((c + 1) * 2 for c in ch)  # to-spectrogram 1x1 convs
    assert sum(p.numel() for p in g.parameters()) == expected


def test_fade_in_endpoints() -> None:
    g = Generator(latent_dim=16, num_pitches=5, channels=TINY)
    z, pitch = _inputs(g, 4)
    with torch.no_grad():
        for block in range(1, g.num_blocks):
            previous = g(z, pitch, block - 1, 1.0)  # (B, 2, H/2, W/2)
            upsampled = F.interpolate(previous, scale_factor=2.0, mode="nearest")
            torch.testing.assert_close(g(z, pitch, block, 0.0), upsampled, rtol=0, atol=1e-6)
            # alpha = 1: the new block's to-spectrogram output, computed by hand
            x = g.input_norm(torch.cat([z, F.one_hot(pitch, 5).float()], 1))[:, :, None, None]
            for k in range(block + 1):
                x = g.blocks[k](x)
            new = torch.tanh(g.to_specgram[block](x))
            torch.testing.assert_close(g(z, pitch, block, 1.0), new, rtol=0, atol=1e-6)
            torch.testing.assert_close(g(z, pitch, block, torch.tensor(1.0)), new, rtol=0, atol=1e-6)
            # in between: the linear blend; a per-example alpha blends each example on its own
            torch.testing.assert_close(g(z, pitch, block, 0.25), 0.25 * new + 0.75 * upsampled)
            alphas = torch.tensor([0.0, 1.0, 0.5, 0.0])
            mixed = g(z, pitch, block, alphas)
            torch.testing.assert_close(mixed[0], upsampled[0], rtol=0, atol=1e-6)
            torch.testing.assert_close(mixed[1], new[1], rtol=0, atol=1e-6)
            assert not torch.allclose(new, upsampled)  # the endpoints differ: the test is not vacuous


def _active_names(block: int, alpha: float) -> list[str]:
    names = [f"blocks.{k}." for k in range(block + 1)] + [f"to_specgram.{block}."]
    if block > 0 and alpha < 1:
        names.append(f"to_specgram.{block - 1}.")
    return names


def _check_gradients(model: nn.Module, active_prefixes: list[str]) -> None:
    for name, p in model.named_parameters():
        if any(name.startswith(prefix) for prefix in active_prefixes):
            assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
        else:
            assert p.grad is None, f"inactive parameter {name} got a gradient"


@pytest.mark.parametrize(("block", "alpha"), [(0, 1.0), (1, 0.5), (2, 1.0), (3, 0.3)])
def test_gradient_reaches_active_blocks_only(block: int, alpha: float) -> None:
    g = Generator(latent_dim=16, num_pitches=5, channels=TINY)
    z, pitch = _inputs(g, 4)
    y = g(z, pitch, block, alpha)
    (y * torch.randn_like(y)).sum().backward()
    _check_gradients(g, _active_names(block, alpha))


def test_equalized_gains() -> None:
    g = Generator(latent_dim=16, num_pitches=5, channels=TINY)
    first = g.blocks[0].conv0.conv
    assert first.kernel_size == (2, 16)
    assert first.scale == pytest.approx(math.sqrt(2.0) / math.sqrt(21 * 2 * 16))
    assert g.blocks[1].conv0.conv.scale == pytest.approx(math.sqrt(2.0 / (9 * TINY[0])))
    for k, to_spec in enumerate(g.to_specgram):
        assert to_spec.scale == pytest.approx(1.0 / math.sqrt(TINY[k]))  # gain 1
    for name, p in g.named_parameters():
        if name.endswith("bias"):
            assert torch.all(p == 0), name


def test_pixel_norm_after_every_conv() -> None:
    """Every block's features have unit RMS over channels at each position."""
    g = Generator(latent_dim=16, num_pitches=5, channels=TINY)
    z, pitch = _inputs(g, 2)
    x = g.input_norm(torch.cat([z, F.one_hot(pitch, 5).float()], 1))[:, :, None, None]
    with torch.no_grad():
        for block in g.blocks:
            x = block(x)
            rms = x.pow(2).mean(dim=1).sqrt()
            torch.testing.assert_close(rms, torch.ones_like(rms), atol=1e-4, rtol=0)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="channels"):
        Generator(channels=())
    g = Generator(latent_dim=16, num_pitches=5, channels=TINY)
    with pytest.raises(ValueError, match="z must be"):
        g(torch.randn(2, 15), torch.tensor([0, 1]), 0)
    with pytest.raises(ValueError, match="pitch must be"):
        g(torch.randn(2, 16), torch.tensor([0]), 0)


def test_models_and_losses_do_not_import_lightning() -> None:
    code = ("import sys, gansynth.models, gansynth.losses, gansynth.training.schedule; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
