"""Incremental decoding with KV caches gives the logits of the full forward pass, byte by byte."""

import os

import pytest
import torch

from megabyte_torch import load_checkpoint
from megabyte_torch.generate import decoder, generate

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.mark.parametrize("name", ["three-levels", "cross-patch", "conv", "transformer"])
def test_cached_decoding_equals_the_forward_pass(name):
    model = load_checkpoint(os.path.join(FIXTURES, name))
    length = model.config.context_length
    ids = torch.randint(0, 258, (2, length), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(ids)
        state = decoder(model, batch=2)
        steps = []
        for t in range(length):
            steps.append(state.logits())
            state.feed(ids[:, t])
    stepped = torch.stack(steps, 1)
    assert (stepped - full).abs().max() <= 1e-5 * full.abs().max()


def test_generation_is_seeded_and_samples_bytes_only():
    model = load_checkpoint(os.path.join(FIXTURES, "conv"))
    first = generate(model, 20, prompt=b"ab", generator=torch.Generator().manual_seed(5))
    again = generate(model, 20, prompt=b"ab", generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, again) and first.shape == (1, 20) and int(first.max()) < 256
    with pytest.raises(ValueError, match="exceed the context of 32"):
        generate(model, 31, prompt=b"ab")
