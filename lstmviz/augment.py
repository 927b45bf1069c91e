"""Batch augmentation on the CPU that covers how people draw digits.

Random affine (rotation, slant, scale, shift) through one `grid_sample`, then random stroke
thickening or thinning with 3x3 max-pooling. Works on whole batches (B, 28, 28) in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms; zero switches one off."""

    rotate_deg: float = 12.0
    shear: float = 0.2
    scale: float = 0.15
    shift_px: float = 2.5
    p_thicken: float = 0.2
    p_thin: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def random_affine(images: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply one random affine map per image: (B, 28, 28) -> (B, 28, 28)."""
    b, hgt, wid = images.shape

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=generator) * (hi - lo) + lo  # (B,)

    angle = u(-cfg.rotate_deg, cfg.rotate_deg) * math.pi / 180.0
    shear = u(-cfg.shear, cfg.shear)
    sx = 1.0 + u(-cfg.scale, cfg.scale)
    sy = sx * (1.0 + u(-cfg.scale / 2, cfg.scale / 2))
    tx = u(-cfg.shift_px, cfg.shift_px) * 2.0 / wid  # normalised coordinates
    ty = u(-cfg.shift_px, cfg.shift_px) * 2.0 / hgt
    cos, sin = angle.cos(), angle.sin()
    # Output->input map: inverse of scale . shear . rotate, built directly per image.
    a11, a12 = cos / sx, (-sin + shear * cos) / sx
    a21, a22 = sin / sy, (cos + shear * sin) / sy
    theta = torch.stack([torch.stack([a11, a12, tx], 1), torch.stack([a21, a22, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, (b, 1, hgt, wid), align_corners=False)  # (B, 28, 28, 2)
    out = F.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[:, 0]


def random_stroke(images: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Thicken (dilate) or thin (erode) the strokes of a random share of the batch."""
    r = torch.rand(images.shape[0], generator=generator)  # (B,)
    out = images.clone()
    thick = (r < cfg.p_thicken).nonzero().flatten()
    thin = ((r >= cfg.p_thicken) & (r < cfg.p_thicken + cfg.p_thin)).nonzero().flatten()
    if len(thick):
        x = images[thick, None]  # (b, 1, 28, 28)
        # Soften so a dilation adds a partial rim, as a wider pen would.
        out[thick] = torch.maximum(x, 0.7 * F.max_pool2d(x, 3, stride=1, padding=1))[:, 0]
    if len(thin):
        x = images[thin, None]
        out[thin] = (0.5 * (x - F.max_pool2d(-x, 3, stride=1, padding=1)))[:, 0]
    return out


def augment_batch(images: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Affine + stroke augmentation of a batch (B, 28, 28), values kept in [0, 1]."""
    out = random_affine(images, cfg, generator)
    if cfg.p_thicken or cfg.p_thin:
        out = random_stroke(out, cfg, generator)
    return out.clamp_(0.0, 1.0)
