"""MEGABYTE and the baseline transformer, exactly as megabyte-ts defines them.

Parameter names and layouts are the TypeScript ones, so `state_dict()` is a checkpoint: linear
weights are [in, out] (y = x W + b), a causal convolution's weight is [k*C, C] (row block j weighs
the input j positions back), and each transformer's layers and final norm sit directly in its
level (`global.layers.0.attn.wq.weight`, `local.norm.weight`). What must match bit for bit in
meaning: concatenating patch embedder, the global shift behind a learned pad patch, the local shift
behind a learned pad vector, pre-norm blocks with norm epsilon 1e-5, GELU in its tanh form, and
cross-patch attention that hides the previous patch from a sequence's first patch.

The byte level's `rotary` turns queries and keys of the local attention by their positions (RoPE,
as the paper's cross-patch attention has it), as megabyte-ts's `rotate` does; `bench_rotary.py`
measures what it changes.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import PAD_ID, ModelConfig, PatchLevel, hidden_dim

NORM_EPSILON = 1e-5
ROTARY_BASE = 10000.0
_SDPA = getattr(F, "scaled_dot_product_attention", None)


def _normal(shape: list[int], std: float) -> nn.Parameter:
    """The paper's initialisation: a normal truncated at two standard deviations."""
    tensor = torch.empty(shape)
    nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)
    return nn.Parameter(tensor)


class Linear(nn.Module):
    """y = x W + b with W stored [in, out], the checkpoint layout."""

    def __init__(self, in_features: int, out_features: int, bias: bool, std: float):
        super().__init__()
        self.weight = _normal([in_features, out_features], std)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return x @ self.weight
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


class Embedding(nn.Module):
    def __init__(self, count: int, dim: int, std: float):
        super().__init__()
        self.weight = _normal([count, dim], std)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class LayerNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, NORM_EPSILON)


class RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPSILON) * self.weight


def make_norm(kind: str, dim: int) -> nn.Module:
    return LayerNorm(dim) if kind == "layernorm" else RMSNorm(dim)


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


class CausalConv(nn.Module):
    """Causal 1-D convolution over the sequence, no bias; weight [k*C, C] as megabyte-ts stores it."""

    def __init__(self, channels: int, kernel_size: int, std: float):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = _normal([kernel_size * channels, channels], std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C] -> [B, T, C]
        k, channels = self.kernel_size, x.shape[-1]
        # Row block j weighs input t - j; conv1d's tap m weighs input t - (k-1) + m, so m = k-1-j.
        kernel = self.weight.view(k, channels, channels).flip(0).permute(2, 1, 0)  # [C_out, C_in, k]
        out = F.conv1d(F.pad(x.transpose(1, 2), (k - 1, 0)), kernel)
        return out.transpose(1, 2)


@functools.lru_cache(maxsize=64)
def rotary_angles(first: int, count: int, head_dim: int, dtype: torch.dtype,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [count, Dh/2] of positions first..first+count-1 times base^(-2i/Dh), pair i."""
    frequencies = ROTARY_BASE ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=device) / head_dim)
    angles = torch.arange(first, first + count, dtype=torch.float64, device=device)[:, None] * frequencies
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate(x: torch.Tensor, first: int) -> torch.Tensor:
    """RoPE (Su et al. 2021): x [B, H, S, Dh] at positions first..first+S-1, each pair (x[2i], x[2i+1])
    turned by position * base^(-2i/Dh). A rotated query and key score by their positions' difference."""
    cos, sin = rotary_angles(first, x.shape[2], x.shape[3], x.dtype, x.device)
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], -1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, bias: bool, std: float, output_std: float, rotary: bool = False):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.rotary = rotary
        self.wq = Linear(dim, dim, bias, std)
        self.wk = Linear(dim, dim, bias, std)
        self.wv = Linear(dim, dim, bias, std)
        self.wo = Linear(dim, dim, bias, output_std)

    def split(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, H, T, Dh]
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, cache: Optional["KVCache"] = None,
                cross: Optional["CrossPatch"] = None, dropout: float = 0.0) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.split(self.wq(x)), self.split(self.wk(x)), self.split(self.wv(x))
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.append(k, v)  # [B, H, S+T, Dh]
        key_mask = None
        if cross is not None:
            k, v, key_mask = cross.with_previous_row(k, v)  # [R, H, r+T, Dh]
            past = cross.positions
        if self.rotary:
            # Keys (cached ones too: caches hold them unrotated) sit at 0..S-1 and queries at past..,
            # so a key of the previous patch is r - j bytes before the patch, never at a patch position.
            q, k = rotate(q, past), rotate(k, 0)
        out = causal_attention(q, k, v, past, key_mask, dropout)
        return self.wo(out.transpose(1, 2).reshape(batch, length, dim))


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past: int,
                     key_mask: Optional[torch.Tensor], dropout: float) -> torch.Tensor:
    """softmax(q k^T / sqrt(Dh) + causal mask [+ key mask]) v: query t sees keys <= past + t."""
    length, keys = q.shape[2], k.shape[2]
    if _SDPA is not None and key_mask is None and (past == 0 or length == 1):
        # A single query after a cache sees every key: no mask at all.
        return _SDPA(q, k, v, dropout_p=dropout, is_causal=past == 0 and length > 1)
    bias = causal_bias(length, keys, past, q.dtype, q.device)
    if key_mask is not None:
        bias = bias + key_mask  # [R, 1, 1, keys]
    if _SDPA is not None:
        return _SDPA(q, k, v, attn_mask=bias, dropout_p=dropout)
    scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1])) + bias
    probs = torch.softmax(scores, dim=-1)
    if dropout > 0:
        probs = F.dropout(probs, dropout)
    return probs @ v


@functools.lru_cache(maxsize=64)
def causal_bias(length: int, keys: int, past: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[T, S] additive mask, 0 where query i may see key j (j <= past + i), else -1e9 (made once per shape)."""
    mask = torch.ones(length, keys, dtype=torch.bool, device=device).tril(past)
    return torch.zeros(length, keys, dtype=dtype, device=device).masked_fill(~mask, -1e9)


class KVCache:
    """Keys and values of earlier positions of one layer, [B, H, S, Dh]."""

    def __init__(self, keys: Optional[torch.Tensor] = None, values: Optional[torch.Tensor] = None):
        self.keys, self.values = keys, values

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is not None:
            k, v = torch.cat([self.keys, k], 2), torch.cat([self.values, v], 2)
        self.keys, self.values = k, v
        return k, v


class CrossPatch:
    """The paper's cross-patch attention over rows that are consecutive patches: each row also sees
    the last `positions` keys/values of the row before it, unless it starts a sequence."""

    def __init__(self, positions: int, patches_per_sequence: int, first_row: int = 0):
        self.positions, self.patches_per_sequence, self.first_row = positions, patches_per_sequence, first_row

    def with_previous_row(self, k: torch.Tensor, v: torch.Tensor):
        r = self.positions
        rows, _, length, _ = k.shape

        def previous(x: torch.Tensor) -> torch.Tensor:
            shifted = torch.cat([torch.zeros_like(x[:1, :, -r:]), x[:-1, :, -r:]], 0)  # row i gets row i-1's tail
            return torch.cat([shifted, x], 2)

        index = torch.arange(rows, device=k.device)
        starts = (index == 0) | ((index + self.first_row) % self.patches_per_sequence == 0)  # [R]
        mask = torch.zeros(rows, r + length, dtype=k.dtype, device=k.device)
        mask[:, :r] = starts[:, None].to(k.dtype) * -1e9
        return previous(k), previous(v), mask[:, None, None, :]


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, activation: str, bias: bool, std: float, output_std: float):
        super().__init__()
        self.activation = activation
        self.up = Linear(dim, hidden, bias, std)
        self.down = Linear(hidden, dim, bias, output_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.up(x)
        return self.down(gelu(hidden) if self.activation == "gelu" else F.relu(hidden))


class Block(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: ModelConfig, dim: int, heads: int, layers: int, rotary: bool = False):
        super().__init__()
        std = config.init_std
        output_std = std / math.sqrt(2 * layers)
        self.attn_norm = make_norm(config.norm, dim)
        self.attn = Attention(dim, heads, config.bias, std, output_std, rotary)
        self.mlp_norm = make_norm(config.norm, dim)
        self.mlp = Mlp(dim, hidden_dim(dim, config.mlp_ratio), config.activation, config.bias, std, output_std)

    def forward(self, x, cache=None, cross=None, dropout: float = 0.0):
        attended = x + F.dropout(self.attn(self.attn_norm(x), cache, cross, dropout), dropout, self.training)
        return attended + F.dropout(self.mlp(self.mlp_norm(attended)), dropout, self.training)


class Stack(nn.Module):
    """A level's transformer: its blocks under `layers.<i>` and its final norm under `norm`."""

    def init_stack(self, config: ModelConfig, dim: int, heads: int, layers: int, rotary: bool = False) -> None:
        self.layers = nn.ModuleList(Block(config, dim, heads, layers, rotary) for _ in range(layers))
        self.norm = make_norm(config.norm, dim)
        self.dropout_rate = config.dropout

    def run(self, h: torch.Tensor, caches: Optional[list[KVCache]] = None,
            cross: Optional[CrossPatch] = None) -> torch.Tensor:
        rate = self.dropout_rate if self.training else 0.0
        for i, block in enumerate(self.layers):
            h = block(h, caches[i] if caches is not None else None, cross, rate)
        return self.norm(h)

    def new_caches(self) -> list[KVCache]:
        return [KVCache() for _ in self.layers]

    def input_dropout(self, h: torch.Tensor) -> torch.Tensor:
        return F.dropout(h, self.dropout_rate, self.training) if self.dropout_rate > 0 else h


class PatchEmbedder(nn.Module):
    """Byte embedding + position, optional residual causal convolutions, P vectors concatenated."""

    def __init__(self, config: ModelConfig, level: PatchLevel, max_positions: int):
        super().__init__()
        std = config.init_std
        self.patch_size, self.byte_dim = level.patch_size, level.byte_dim
        self.bytes = Embedding(config.vocab_size, level.byte_dim, std)
        self.positions = _normal([max_positions, level.byte_dim], std)
        if level.conv_kernels:
            self.conv = nn.ModuleList(CausalConv(level.byte_dim, k, std) for k in level.conv_kernels)
        self.history = sum(k - 1 for k in level.conv_kernels)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, K*P] -> patch vectors [B, K, P*D]"""
        batch, length = ids.shape
        return self.embed_bytes(ids).reshape(batch, length // self.patch_size, self.patch_size * self.byte_dim)

    def embed_bytes(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """ids [B, L] from byte position `start` -> [B, L, D]. With convolutions, a window that starts
        `history` bytes early gives exact vectors from there on (zeros stand in only before byte 0)."""
        embedded = self.bytes(ids) + self.positions[start:start + ids.shape[1]]
        for conv in getattr(self, "conv", []):
            embedded = embedded + gelu(conv(embedded))
        return embedded


class GlobalModel(Stack):
    """A patch level: the global model, or (with a parent) a middle level inside each parent patch."""

    def __init__(self, config: ModelConfig, level: PatchLevel, context: int, parent_byte_dim: Optional[int]):
        super().__init__()
        self.level = level
        self.embed = PatchEmbedder(config, level, context)
        self.pad = _normal([level.width], config.init_std)
        if parent_byte_dim is not None:
            self.project = Linear(parent_byte_dim, level.byte_dim, config.bias, config.init_std)
        self.init_stack(config, level.width, level.heads, level.layers)

    def forward(self, ids: torch.Tensor, parent_out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """ids [B, K*P] -> outputs [B, K, P*D], each seeing only earlier patches (and the parent's output)."""
        patches = self.embed(ids)
        h = torch.cat([self.pad.expand(patches.shape[0], 1, -1), patches[:, :-1]], 1)  # the global shift
        if parent_out is not None:
            h = h + self.condition(parent_out)
        return self.run(self.input_dropout(h))

    def condition(self, parent_out: torch.Tensor) -> torch.Tensor:
        """Parent outputs [B', K', P'*D'] cut into per-byte slices, projected: [B'*K', P'/P, P*D]."""
        batch, count, width = parent_out.shape
        parent_byte_dim = self.project.weight.shape[0]
        slices = parent_out.reshape(batch * count, width // parent_byte_dim, parent_byte_dim)
        return self.project(slices).reshape(batch * count, -1, self.level.width)


class LocalModel(Stack):
    def __init__(self, config: ModelConfig, patch_size: int, parent_byte_dim: int):
        super().__init__()
        level = config.byte_level
        std = config.init_std
        self.patch_size, self.cross_patch = patch_size, level.cross_patch
        self.project = Linear(parent_byte_dim, level.dim, config.bias, std)
        self.embed = nn.Module()
        self.embed.bytes = Embedding(config.vocab_size, level.dim, std)
        self.embed.positions = _normal([patch_size, level.dim], std)
        self.pad = _normal([level.dim], std)
        self.init_stack(config, level.dim, level.heads, level.layers, level.rotary)
        if not config.tie_head:
            self.head = Linear(level.dim, config.vocab_size, False, std)

    def forward(self, parent_out: torch.Tensor, rows: torch.Tensor, patches_per_sequence: int,
                first_row: int = 0) -> torch.Tensor:
        """parent_out [R, 1, P*D_G] and the bytes of each local patch rows [R, P] -> logits [R, P, V]."""
        count, patch = rows.shape
        conditioning = self.project(parent_out.reshape(count, patch, -1))  # [R, P, D_L]
        previous = self.embed.bytes(rows[:, :-1])  # the local shift: the byte before, the pad at p = 0
        shifted = torch.cat([self.pad.expand(count, 1, -1), previous], 1)
        h = self.input_dropout(conditioning + shifted + self.embed.positions)
        cross = CrossPatch(self.cross_patch, patches_per_sequence, first_row) if self.cross_patch else None
        return self.logits(self.run(h, cross=cross))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h) if hasattr(self, "head") else h @ self.embed.bytes.weight.t()


class ByteModel(nn.Module):
    """What both models share: padding, loss and bits per byte over ids [B, T] (position t predicts id t)."""

    config: ModelConfig

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, T] (int64, T <= context) -> logits [B, T, V]."""
        batch, length = ids.shape
        if length > self.config.context_length:
            raise ValueError(f"sequence of {length} bytes is longer than the model's context of "
                             f"{self.config.context_length}: split it into windows")
        extra = -length % self.config.patch_size
        padded = F.pad(ids, (0, extra), value=PAD_ID) if extra else ids
        return self.padded_logits(padded)[:, :length]

    def loss(self, ids: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mean cross-entropy in nats over the mask (default: every position that is not padding)."""
        logits = self(ids)
        nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids.reshape(-1), reduction="none")
        weights = (ids != PAD_ID).float() if mask is None else mask.float()
        return (nats * weights.reshape(-1)).sum() / weights.sum().clamp(min=1)

    def padded_logits(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class MegabyteModel(ByteModel):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        outer, *middle = config.patch_levels
        self.add_module("global", GlobalModel(config, outer, config.context_length, None))
        above = outer
        self.middle = nn.ModuleList()
        for level in middle:
            self.middle.append(GlobalModel(config, level, above.patch_size, above.byte_dim))
            above = level
        self.local = LocalModel(config, above.patch_size, above.byte_dim)

    @property
    def global_model(self) -> GlobalModel:
        return getattr(self, "global")

    def padded_logits(self, ids: torch.Tensor) -> torch.Tensor:
        batch, length = ids.shape
        out = self.global_model(ids)  # [B, K, P*D_G]
        rows = ids
        for level, above in zip(self.middle, self.config.patch_levels):
            rows = rows.reshape(-1, above.patch_size)  # one row per patch of the level above
            out = level(rows, out)
        rows = rows.reshape(-1, self.local.patch_size)
        out = out.reshape(rows.shape[0], 1, -1)
        logits = self.local(out, rows, length // self.local.patch_size)
        return logits.reshape(batch, length, -1)


class TransformerModel(ByteModel, Stack):
    """The baseline: a learned start vector, then bytes 0..T-2, plus learned positions."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        std = config.init_std
        self.embed = nn.Module()
        self.embed.bytes = Embedding(config.vocab_size, config.dim, std)
        self.embed.positions = _normal([config.context_length, config.dim], std)
        self.start = _normal([config.dim], std)
        self.init_stack(config, config.dim, config.heads, config.layers)
        if not config.tie_head:
            self.head = Linear(config.dim, config.vocab_size, False, std)

    def padded_logits(self, ids: torch.Tensor) -> torch.Tensor:
        batch, length = ids.shape
        shifted = torch.cat([self.start.expand(batch, 1, -1), self.embed.bytes(ids[:, :-1])], 1)
        h = self.run(self.input_dropout(shifted + self.embed.positions[:length]))
        return self.head(h) if hasattr(self, "head") else h @ self.embed.bytes.weight.t()


def create_model(config: ModelConfig) -> ByteModel:
    return MegabyteModel(config) if config.kind == "megabyte" else TransformerModel(config)
