"""The optimizer semantics of @megabyte/trainer, on torch.optim.AdamW.

Our AdamW is PyTorch's update order (decay on the parameter before the Adam step, eps added to
the bias-corrected sqrt(v)), with weight decay only on matrices: linear and convolution weights.
Norms, biases, embeddings, positions and pads are not decayed. Clipping is
torch.nn.utils.clip_grad_norm_ (scale max / (norm + 1e-6) when below 1), as in our clip.ts.
"""

from __future__ import annotations

import math

import torch

from .model import CausalConv, Linear


def decayed(model: torch.nn.Module) -> set[str]:
    """Names of the parameters weight decay applies to (our `decay: true`)."""
    return {f"{name}.weight" if name else "weight" for name, module in model.named_modules()
            if isinstance(module, (Linear, CausalConv))}


def adamw(model: torch.nn.Module, lr: float, weight_decay: float = 0.1, betas=(0.9, 0.98),
          eps: float = 1e-8) -> torch.optim.AdamW:
    names = decayed(model)
    groups = [
        {"params": [p for n, p in model.named_parameters() if n in names], "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if n not in names], "weight_decay": 0.0},
    ]
    options = {"foreach": True} if "foreach" in torch.optim.AdamW.__init__.__code__.co_varnames else {}
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, **options)


def learning_rate_at(step: int, lr: float, schedule: str, warmup_steps: int, total_steps: int,
                     min_lr_ratio: float) -> float:
    """schedule.ts: linear warm-up from 0 to lr, then constant, cosine or linear decay to lr * ratio."""
    warmup = min(warmup_steps, total_steps) if schedule != "constant" else warmup_steps
    if step < warmup:
        return lr * step / warmup
    if schedule == "constant":
        return lr
    min_lr = lr * min_lr_ratio
    decay_steps = total_steps - warmup
    progress = 1.0 if decay_steps == 0 else min(1.0, (step - warmup) / decay_steps)
    remaining = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
    return min_lr + (lr - min_lr) * remaining
