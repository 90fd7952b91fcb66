"""The class-conditional GAN: a ResNet generator with conditional BatchNorm and a projection
discriminator with spectral norm (ideas from SNGAN, cGANs with projection and BigGAN)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from labeler.core.errors import LabelerError

RESOLUTIONS = (32, 64, 128)
# Base channel count per width; "tiny" exists so CPU tests finish in seconds.
WIDTHS = {"tiny": 8, "small": 32, "base": 64, "large": 128}
# Channel multipliers per resolution: generator levels from 4x4 up, discriminator levels down.
G_MULT = {32: (4, 4, 4, 4), 64: (8, 8, 4, 2, 1), 128: (8, 8, 4, 4, 2, 1)}
D_MULT = {32: (2, 2, 2, 2), 64: (1, 2, 4, 8, 8), 128: (1, 2, 4, 8, 8, 8)}


@dataclass(frozen=True)
class GanConfig:
    """Everything needed to rebuild the networks; stored as JSON beside every checkpoint."""

    num_classes: int
    resolution: int = 32
    width: str = "base"
    z_dim: int = 128
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise LabelerError(f"num_classes must be a positive integer, got {self.num_classes!r}")
        if self.resolution not in RESOLUTIONS:
            raise LabelerError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution!r}")
        if self.width not in WIDTHS:
            raise LabelerError(f"width must be one of {', '.join(WIDTHS)}, got {self.width!r}")
        if not isinstance(self.z_dim, int) or not 1 <= self.z_dim <= 4096:
            raise LabelerError(f"z_dim must be an integer in 1..4096, got {self.z_dim!r}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise LabelerError("class_names must name every class")
        object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GanConfig:
        """Parse and validate; unknown or missing keys are a ``LabelerError``."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise LabelerError(f"GAN config is not valid JSON: {exc}") from None
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not set(data) <= known or "num_classes" not in data:
            raise LabelerError("GAN config has unexpected or missing keys")
        data["class_names"] = tuple(data.get("class_names") or ())
        return cls(**data)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose scale and shift are looked up per class, so one network serves all."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.bn(x)
        return out * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class GeneratorBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, num_classes: int) -> None:
        super().__init__()
        self.norm1 = ConditionalBatchNorm(c_in, num_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = ConditionalBatchNorm(c_out, num_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class Generator(nn.Module):
    """z (N, z_dim) and class ids (N,) -> images (N, 3, R, R) in [-1, 1]."""

    def __init__(self, cfg: GanConfig) -> None:
        super().__init__()
        ch = [m * WIDTHS[cfg.width] for m in G_MULT[cfg.resolution]]
        self.z_dim = cfg.z_dim
        self.c0 = ch[0]
        self.fc = nn.Linear(cfg.z_dim, 4 * 4 * ch[0])
        self.blocks = nn.ModuleList(
            GeneratorBlock(a, b, cfg.num_classes) for a, b in zip(ch[:-1], ch[1:], strict=True)
        )
        self.out_norm = nn.BatchNorm2d(ch[-1])
        self.out_conv = nn.Conv2d(ch[-1], 3, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], self.c0, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


class DiscriminatorBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, down: bool, first: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = spectral_norm(nn.Conv2d(c_in, c_out, 1)) if (c_in != c_out or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The first block sees raw pixels: no ReLU before it, so negative values are not lost.
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.skip is not None:
            s = self.skip(F.avg_pool2d(s, 2) if self.first and self.down else s)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class Discriminator(nn.Module):
    """Images and class ids -> one realness score per image (projection: ⟨embed(y), φ(x)⟩ + ψ(φ(x)))."""

    def __init__(self, cfg: GanConfig) -> None:
        super().__init__()
        ch = [m * WIDTHS[cfg.width] for m in D_MULT[cfg.resolution]]
        # Features end at 8x8 whatever the resolution; the last blocks refine without pooling.
        n_down = int(math.log2(cfg.resolution // 8))
        blocks = []
        c_in = 3
        for i, c_out in enumerate(ch):
            blocks.append(DiscriminatorBlock(c_in, c_out, down=i < n_down, first=i == 0))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.linear = spectral_norm(nn.Linear(ch[-1], 1))
        self.embed = spectral_norm(nn.Embedding(cfg.num_classes, ch[-1]))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)


def build(cfg: GanConfig) -> tuple[Generator, Discriminator]:
    """Fresh generator and discriminator for ``cfg``."""
    return Generator(cfg), Discriminator(cfg)
