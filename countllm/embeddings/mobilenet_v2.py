"""MobileNetV2 (Sandler et al., 2018), written for this project.

torchvision cannot be imported beside the pinned torch, yet its ImageNet checkpoint is the one
offline image backbone we have. So the network is defined here, with module names laid out so
that torchvision's state dict loads with `strict=True`:

    features.0              stem: Conv3x3(s2) -> BN -> ReLU6        keys features.0.{0,1}.*
    features.1 .. 17        inverted residual blocks               keys features.N.conv.*
    features.18             1x1 conv to 1280 channels -> BN -> ReLU6
    classifier              Dropout -> Linear(1280, num_classes)   keys classifier.1.*

Inside a block, `conv` is a Sequential: [expand ConvBNReLU (absent when t == 1),
depthwise ConvBNReLU, 1x1 projection Conv2d, BatchNorm2d] - no activation after the
projection (the "linear bottleneck").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class MobileNetV2Config:
    width_mult: float = 1.0  # scales every channel count (rounded to a multiple of 8)
    num_classes: int = 1000
    dropout: float = 0.2


# (expand ratio t, output channels c, repeats n, first stride s), from Table 2 of the paper.
BLOCK_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
EMBED_DIM = 1280  # width of the last conv layer, and of `embed`'s output


def round_channels(value: float, divisor: int = 8) -> int:
    """Round to a multiple of `divisor`, never dropping more than 10% (matches the reference)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNReLU(nn.Sequential):
    """Conv -> BatchNorm -> ReLU6; a Sequential so its children are named 0, 1, 2."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3) -> project (1x1, linear); skip-add when shapes allow."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(c_in * expand_ratio))
        self.use_residual = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(c_in, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, c_in, H, W) -> (B, c_out, H/s, W/s)
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """ImageNet classifier whose pooled last-layer activations serve as frame embeddings."""

    def __init__(self, config: MobileNetV2Config | None = None) -> None:
        super().__init__()
        self.config = config = config or MobileNetV2Config()
        c_in = round_channels(STEM_CHANNELS * config.width_mult)
        self.embed_dim = round_channels(EMBED_DIM * max(1.0, config.width_mult))
        layers: list[nn.Module] = [ConvBNReLU(3, c_in, stride=2)]
        for t, c, n, s in BLOCK_SETTINGS:
            c_out = round_channels(c * config.width_mult)
            for i in range(n):
                layers.append(InvertedResidual(c_in, c_out, stride=s if i == 0 else 1, expand_ratio=t))
                c_in = c_out
        layers.append(ConvBNReLU(c_in, self.embed_dim, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(self.embed_dim, config.num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        """The reference init, so a randomly initialised model trains like torchvision's."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised RGB -> (B, 1280) globally average-pooled features."""
        x = self.features(x)  # (B, 1280, H/32, W/32)
        return x.mean(dim=(2, 3))  # (B, 1280)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised RGB -> (B, num_classes) ImageNet logits."""
        return self.classifier(self.embed(x))
