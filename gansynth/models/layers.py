"""Building blocks of the progressive GAN: equalized-learning-rate conv and dense layers, pixel
norm, minibatch standard deviation, and the pieces both progressive networks use (conv +
activation, the resolution of a block, the alpha blend of a transition) (DESIGN.md section 3,
"Networks").

Equalized learning rate: the stored weights are drawn N(0, 1) and multiplied at run time by
gain * sqrt(1 / fan_in) (fan_in = in_channels * kernel area), so Adam's per-parameter step acts on
a comparable scale in every layer. gain is sqrt(2) (He, for leaky-ReLU layers) by default and 1
for the to-spectrogram and dense output layers. Biases start at zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HE_GAIN = math.sqrt(2.0)
LEAKY_SLOPE = 0.2


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class _Equalized(nn.Module):
    """Shared parameter handling: weight stored N(0, 1), used as weight * scale; bias zero."""

    weight: nn.Parameter
    bias: nn.Parameter | None
    scale: float

    def _init_parameters(self, weight_shape: tuple[int, ...], bias: bool) -> None:
        self.weight = nn.Parameter(torch.empty(weight_shape))
        if bias:
            self.bias = nn.Parameter(torch.empty(weight_shape[0]))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Stored weights N(0, 1), biases 0."""
        nn.init.normal_(self.weight, 0.0, 1.0)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def effective_weight(self) -> torch.Tensor:
        """The weight the layer uses: stored weight * scale (same shape as the stored weight)."""
        return self.weight * self.scale


class EqualizedConv2d(_Equalized):
    """2-D convolution with run-time weight scaling gain / sqrt(in_channels * kh * kw).

    x: (B, in_channels, H, W) -> (B, out_channels, H', W') with the usual conv arithmetic for
    `padding` (stride 1).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 padding: int | tuple[int, int] = 0, gain: float = HE_GAIN, bias: bool = True) -> None:
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (kh, kw)
        self.padding = _pair(padding)
        self.gain = gain
        self.fan_in = in_channels * kh * kw
        self.scale = gain / math.sqrt(self.fan_in)
        self._init_parameters((out_channels, in_channels, kh, kw), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding}, gain={self.gain:.4g}, bias={self.bias is not None}")


class EqualizedLinear(_Equalized):
    """Dense layer with run-time weight scaling gain / sqrt(in_features).

    x: (B, in_features) -> (B, out_features).
    """

    def __init__(self, in_features: int, out_features: int, gain: float = HE_GAIN,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.gain = gain
        self.fan_in = in_features
        self.scale = gain / math.sqrt(in_features)
        self._init_parameters((out_features, in_features), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, gain={self.gain:.4g}, "
                f"bias={self.bias is not None}")


class PixelNorm(nn.Module):
    """Normalize each feature vector to unit RMS over the channel axis (dim 1):
    x / sqrt(mean(x^2 over channels) + eps). Works on (B, C) and (B, C, H, W)."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStd(nn.Module):
    """Append one channel holding the average standard deviation of the features over a group.

    x: (B, C, H, W) -> (B, C + 1, H, W). The batch is split into groups of G = the largest divisor
    of B not above `group_size`; example i belongs to group i mod (B / G) (the ProGAN layout). For
    each group: per-element population std over its G members, sqrt(var + eps), averaged over C, H,
    W to one scalar, written as the extra channel of every member.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"minibatch std group_size must be >= 1, got {group_size}")
        self.group_size = group_size
        self.eps = eps

    def group_for(self, batch: int) -> int:
        """Group size used for a batch of `batch` examples."""
        g = min(self.group_size, batch)
        while batch % g:
            g -= 1
        return g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = self.group_for(b)
        y = x.float().reshape(g, b // g, c, h, w)  # (G, M, C, H, W): member, group, features
        var = (y - y.mean(dim=0)).pow(2).mean(dim=0)  # (M, C, H, W)
        std = torch.sqrt(var + self.eps).mean(dim=(1, 2, 3))  # (M,)
        stat = std.to(x.dtype).repeat(g).reshape(b, 1, 1, 1).expand(b, 1, h, w)  # example i -> group i % M
        return torch.cat([x, stat], dim=1)


def one_hot(index: torch.Tensor, classes: int, dtype: torch.dtype) -> torch.Tensor:
    """(B,) int class indices -> (B, classes) one-hot in `dtype`, by comparison: F.one_hot reads
    the indices back to check their range, which makes the host wait for a GPU."""
    return (index.long()[:, None] == torch.arange(classes, device=index.device)).to(dtype)


def block_shape(start_shape: tuple[int, int], block: int) -> tuple[int, int]:
    """(frames, bins) of resolution block `block`: start_shape * 2^block."""
    return start_shape[0] * 2**block, start_shape[1] * 2**block


def blend(alpha: float | torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """alpha * new + (1 - alpha) * old; exact at alpha 0 and 1. A tensor alpha is a scalar or (B,)."""
    if isinstance(alpha, torch.Tensor) and alpha.dim() > 0:
        alpha = alpha.reshape(-1, *([1] * (new.dim() - 1)))
    return alpha * new + (1 - alpha) * old


def fully_new(alpha: float | torch.Tensor) -> bool:
    """True when alpha is a Python number >= 1, so the old path can be skipped (no device sync)."""
    return not isinstance(alpha, torch.Tensor) and alpha >= 1.0


class ConvAct(nn.Module):
    """Equalized conv -> leaky ReLU (0.2) -> optional pixel norm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 padding: int | tuple[int, int], pixel_norm: bool) -> None:
        super().__init__()
        self.conv = EqualizedConv2d(in_channels, out_channels, kernel_size, padding=padding)
        self.norm: nn.Module = PixelNorm() if pixel_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.leaky_relu(self.conv(x), LEAKY_SLOPE))
