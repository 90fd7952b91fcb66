"""DiffAugment: differentiable colour, translation and cutout applied to real and fake alike.

With few real images the discriminator memorises them; augmenting both what it sees as real and
as fake (in the D and the G update) stops that without leaking augmentations into the generator,
because the same distribution of transforms hits both sides (Zhao et al., 2020). Every random
draw comes from the ``generator`` passed in.
"""

from __future__ import annotations

import torch

DEFAULT_POLICY = ("color", "translation", "cutout")


def _rand(x: torch.Tensor, shape: tuple[int, ...], g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=g, device=x.device, dtype=torch.float32).to(x.dtype)


def color(x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness (±0.5), saturation (0..2×) and contrast (0.5..1.5×) per image."""
    n = x.shape[0]
    x = x + (_rand(x, (n, 1, 1, 1), g) - 0.5)
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * (_rand(x, (n, 1, 1, 1), g) * 2.0) + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, (n, 1, 1, 1), g) + 0.5) + mean


def translation(
    x: torch.Tensor, ratio: float = 0.125, g: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling the uncovered border with zeros."""
    n, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1, 1), generator=g, device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1, 1), generator=g, device=x.device)
    src_y = torch.arange(h, device=x.device).view(1, h, 1) - dy
    src_x = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = (src_y >= 0) & (src_y < h) & (src_x >= 0) & (src_x < w)
    flat = src_y.clamp(0, h - 1) * w + src_x.clamp(0, w - 1)  # (n, h, w)
    gathered = x.flatten(2).gather(2, flat.flatten(1).unsqueeze(1).expand(-1, x.shape[1], -1))
    return gathered.view_as(x) * inside.unsqueeze(1).to(x.dtype)


def cutout(x: torch.Tensor, ratio: float = 0.5, g: torch.Generator | None = None) -> torch.Tensor:
    """Zero one square of ``ratio`` × the image size at a random place in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g, device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g, device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    hole = ((ys - cy).abs() * 2 < ch) & ((xs - cx).abs() * 2 < cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def diff_augment(
    x: torch.Tensor, policy: tuple[str, ...] = DEFAULT_POLICY, g: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the named augmentations in order; an empty policy returns ``x`` unchanged."""
    ops = {"color": color, "translation": translation, "cutout": cutout}
    for name in policy:
        x = ops[name](x, g=g)
    return x
