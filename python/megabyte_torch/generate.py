"""KV-cached incremental decoding, one byte at a time, for both models.

MEGABYTE: each patch level runs once per completed patch of its own (the global level with one
cache over the whole sequence, a middle level with a cache that starts fresh in each patch of
the level above), and the local level once per byte with a cache that starts fresh in each patch
(or, with cross-patch attention, with the last positions of the previous patch).
"""

from __future__ import annotations

from typing import Optional

import torch

from .config import PAD_ID
from .model import ByteModel, KVCache, MegabyteModel, TransformerModel


class Decoder:
    """`logits()` -> [B, V] for the next position; `feed(ids [B])` appends the chosen bytes."""

    def __init__(self, model: ByteModel, batch: int = 1):
        self.model, self.batch = model, batch
        self.ids: list[torch.Tensor] = []  # one [B] tensor per position so far
        device = next(model.parameters()).device
        self.device = device

    @property
    def position(self) -> int:
        return len(self.ids)

    def feed(self, ids: torch.Tensor) -> None:
        if self.position >= self.model.config.context_length:
            raise ValueError(f"the context of {self.model.config.context_length} bytes is full")
        self.ids.append(ids.to(self.device))

    def window(self, start: int, end: int) -> torch.Tensor:
        return torch.stack(self.ids[start:end], 1)  # [B, end-start]

    def logits(self) -> torch.Tensor:
        raise NotImplementedError


class TransformerDecoder(Decoder):
    def __init__(self, model: TransformerModel, batch: int = 1):
        super().__init__(model, batch)
        self.caches = model.new_caches()

    def logits(self) -> torch.Tensor:
        model, t = self.model, self.position
        previous = model.start.expand(self.batch, 1, -1) if t == 0 else model.embed.bytes(self.ids[-1][:, None])
        h = model.run(previous + model.embed.positions[t], self.caches)
        return (model.head(h) if hasattr(model, "head") else h @ model.embed.bytes.weight.t())[:, 0]


class MegabyteDecoder(Decoder):
    def __init__(self, model: MegabyteModel, batch: int = 1):
        super().__init__(model, batch)
        self.levels = [model.global_model, *model.middle]
        self.patches = [level.level.patch_size for level in self.levels]
        self.caches: list[list[KVCache]] = [level.new_caches() for level in self.levels]
        self.outputs: list[Optional[torch.Tensor]] = [None] * len(self.levels)  # [B, 1, W] per level
        self.conditioning: list[Optional[torch.Tensor]] = [None] * len(self.levels)
        self.local_caches = model.local.new_caches()
        self.local_conditioning: Optional[torch.Tensor] = None

    def logits(self) -> torch.Tensor:
        t = self.position
        for i, patch in enumerate(self.patches):
            if t % patch == 0:
                self.outputs[i] = self.level_step(i, t)
        local = self.model.local
        p = t % local.patch_size
        if p == 0:
            out = self.outputs[-1]
            self.local_conditioning = local.project(out.reshape(self.batch, local.patch_size, -1))  # [B, P, D_L]
            self.local_caches = self.fresh_local_caches(t)
        previous = local.pad.expand(self.batch, 1, -1) if p == 0 else local.embed.bytes(self.ids[-1][:, None])
        h = self.local_conditioning[:, p:p + 1] + previous + local.embed.positions[p]
        return local.logits(local.run(h, self.local_caches))[:, 0]

    def level_step(self, i: int, t: int) -> torch.Tensor:
        """The output of level i for its patch that starts at byte t: [B, 1, W_i]."""
        level, patch = self.levels[i], self.patches[i]
        above = self.model.config.context_length if i == 0 else self.patches[i - 1]
        offset = t % above  # where t lies inside the patch of the level above
        if offset == 0:
            self.caches[i] = level.new_caches()
            if i > 0:
                self.conditioning[i] = level.condition(self.outputs[i - 1])  # [B, P_above/P, W]
        if offset == 0:
            h = level.pad.expand(self.batch, 1, -1)
        else:
            start = offset - patch
            history = min(level.embed.history, start)
            window = self.window(t - patch - history, t)
            embedded = level.embed.embed_bytes(window, start - history)[:, history:]  # [B, P, D]
            h = embedded.reshape(self.batch, 1, -1)
        if i > 0:
            h = h + self.conditioning[i][:, offset // patch:offset // patch + 1]
        return level.run(h, self.caches[i])

    def fresh_local_caches(self, t: int) -> list[KVCache]:
        r = self.model.local.cross_patch
        if r == 0 or t == 0:
            return self.model.local.new_caches()
        return [KVCache(c.keys[:, :, -r:], c.values[:, :, -r:]) for c in self.local_caches]


def decoder(model: ByteModel, batch: int = 1) -> Decoder:
    return MegabyteDecoder(model, batch) if isinstance(model, MegabyteModel) else TransformerDecoder(model, batch)


@torch.no_grad()
def generate(model: ByteModel, length: int, batch: int = 1, prompt: bytes = b"", temperature: float = 1.0,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Samples `length` bytes after `prompt` -> ids [B, length]. Only byte values are sampled."""
    state = decoder(model, batch)
    if len(prompt) + length > model.config.context_length:
        raise ValueError(f"{len(prompt)} prompt bytes + {length} new ones exceed the context of "
                         f"{model.config.context_length}")
    for byte in prompt:
        state.logits()
        state.feed(torch.full((batch,), byte, dtype=torch.long))
    out = []
    for _ in range(length):
        logits = state.logits()[:, :PAD_ID].float()  # special ids (padding, boundary) are never sampled
        if temperature == 0:
            chosen = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temperature, -1)
            chosen = torch.multinomial(probs, 1, generator=generator)[:, 0]
        state.feed(chosen)
        out.append(chosen)
    return torch.stack(out, 1)
