"""Rotary position embeddings in the local attention (the byte level's `rotary`, as in megabyte-ts)."""

import json
import os

import pytest
import torch

from megabyte_torch import ConfigError, create_model, load_checkpoint, parse_config
from megabyte_torch.generate import decoder
from megabyte_torch.model import rotate

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def config(formatVersion=2, **local):
    """Two levels, P = 4, over 24 bytes: six patches, so cross-patch attention crosses five boundaries."""
    return parse_config({
        "kind": "megabyte", "contextLength": 24, "patchSize": 4, "initStd": 0.5, "mlpRatio": 2,
        "global": {"byteDim": 4, "layers": 1, "heads": 2},
        "local": {"dim": 8, "layers": 2, "heads": 2, **local}, "formatVersion": formatVersion,
    })


def test_rotated_scores_depend_only_on_the_position_difference():
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(1, 2, 5, 16, generator=generator)  # [B, H, T, Dh]
    k = torch.randn(1, 2, 9, 16, generator=generator)
    scores = rotate(q, 4) @ rotate(k, 0).transpose(-1, -2)  # queries at 4..8, keys at 0..8
    for shift in (1, 7, 1000):
        shifted = rotate(q, 4 + shift) @ rotate(k, shift).transpose(-1, -2)
        assert torch.allclose(shifted, scores, atol=1e-4)
    # Position 0 is the identity, and a turn keeps a vector's length.
    assert torch.equal(rotate(q, 0)[:, :, :1], q[:, :, :1])
    assert torch.allclose(rotate(q, 3).norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    # Pair i turns by position * 10000^(-2i/Dh): pair 0 (x0, x1) by 1 radian at position 1.
    x = torch.zeros(1, 1, 2, 4)
    x[..., 0] = 1.0
    turned = rotate(x, 0)[0, 0, 1]
    assert torch.allclose(turned, torch.tensor([torch.cos(torch.tensor(1.0)), torch.sin(torch.tensor(1.0)), 0, 0]))


def test_a_key_of_the_previous_patch_is_told_apart_from_the_same_key_in_the_patch():
    # Query at patch position 0 with r = 2: keys of the previous patch sit 2 and 1 bytes before it,
    # the patch's own first key at 0. Without rotation the same key vector scores the same anywhere.
    generator = torch.Generator().manual_seed(1)
    q = torch.randn(1, 1, 1, 8, generator=generator)
    key = torch.randn(1, 1, 1, 8, generator=generator)
    keys = key.expand(1, 1, 3, 8)  # the same vector at previous-patch slots -2, -1 and own slot 0
    plain = (q @ keys.transpose(-1, -2)).flatten()
    rotated = (rotate(q, 2) @ rotate(keys, 0).transpose(-1, -2)).flatten()
    assert torch.allclose(plain, plain[0].expand(3))
    assert (rotated[:, None] - rotated[None, :]).abs().triu(1).max() > 1e-3
    assert (rotated[0] - rotated[2]).abs() > 1e-3 and (rotated[1] - rotated[2]).abs() > 1e-3


@pytest.mark.parametrize("cross_patch", [0, 2, 4])
def test_the_model_stays_causal(cross_patch):
    torch.manual_seed(0)
    model = create_model(config(crossPatch=cross_patch, rotary=True)).eval()
    ids = torch.randint(0, 256, (1, 24), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        base = model(ids)
        for t in (0, 3, 4, 5, 11, 12, 23):
            changed = ids.clone()
            changed[0, t] = (changed[0, t] + 101) % 256
            out = model(changed)
            # Position s predicts byte s from the bytes before it: only positions after t may move.
            assert torch.equal(out[:, :t + 1], base[:, :t + 1])
            if t < 23:
                assert not torch.allclose(out[:, t + 1:], base[:, t + 1:])


@pytest.mark.parametrize("cross_patch", [0, 3])
def test_cached_decoding_equals_the_forward_pass(cross_patch):
    torch.manual_seed(0)
    model = create_model(config(crossPatch=cross_patch, rotary=True)).eval()
    ids = torch.randint(0, 258, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(ids)
        state = decoder(model, batch=2)
        steps = []
        for t in range(24):
            steps.append(state.logits())
            state.feed(ids[:, t])
    assert (torch.stack(steps, 1) - full).abs().max() <= 1e-5 * full.abs().max()


def test_rotary_adds_no_parameter_and_changes_the_logits():
    torch.manual_seed(0)
    learned = create_model(config(crossPatch=2, rotary=False)).eval()
    torch.manual_seed(0)
    rotary = create_model(config(crossPatch=2, rotary=True)).eval()
    assert {n: t.shape for n, t in learned.state_dict().items()} == {n: t.shape for n, t in rotary.state_dict().items()}
    assert all(torch.equal(t, rotary.state_dict()[n]) for n, t in learned.state_dict().items())
    ids = torch.randint(0, 256, (1, 24), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert not torch.allclose(learned(ids), rotary(ids))


def test_the_option_round_trips_and_old_configs_keep_their_meaning():
    # Cross-patch attention comes with rotary embeddings unless a config says otherwise (format 2);
    # a format-1 config.json meant none.
    assert config(crossPatch=2).byte_level.rotary is True
    assert config(crossPatch=2, formatVersion=1).byte_level.rotary is False
    assert config().byte_level.rotary is False
    for rotary in (True, False):
        written = config(crossPatch=2, rotary=rotary).to_json()
        assert written["local"]["rotary"] is rotary and written["formatVersion"] == 2
        assert parse_config(written) == config(crossPatch=2, rotary=rotary)
    # The committed cross-patch fixture (written by megabyte-ts) still reads as learned positions only.
    assert load_checkpoint(os.path.join(FIXTURES, "cross-patch")).config.byte_level.rotary is False
    with open(os.path.join(FIXTURES, "cross-patch", "config.json")) as file:
        assert "rotary" not in json.load(file)["local"]


@pytest.mark.parametrize("local, message", [
    ({"rotary": 1}, "local.rotary: expected true or false, got 1"),
    ({"dim": 6, "heads": 2, "rotary": True}, "local.rotary: rotary embeddings turn pairs of a head's 3 dimensions"),
])
def test_bad_values_are_named(local, message):
    with pytest.raises(ConfigError) as error:
        config(**local)
    assert message in str(error.value)


def test_the_benchmark_trains_each_variant_from_the_same_weights_and_writes_its_json(tmp_path, capsys):
    from megabyte_torch.bench_rotary import main

    text = tmp_path / "text.txt"
    text.write_bytes(b"the jury said it did find that the city had been well run. " * 200)
    out = tmp_path / "result.json"
    assert main(["--data", str(text), "--steps", "2", "--batch", "2", "--warmup", "1", "--eval-windows", "1",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["variant"] for r in result["runs"]] == ["no cross-patch", "cross-patch", "cross-patch rotary",
                                                      "rotary only"]
    # As parsed (format 2 turns rotary on for cross-patch attention unless the config says false).
    parsed = [parse_config(r["config"]).byte_level for r in result["runs"]]
    assert [level.rotary for level in parsed] == [False, False, True, True]
    assert [r["config"]["levels"][-1].get("crossPatch", 0) for r in result["runs"]] == [0, 4, 4, 0]
    assert all(0 < r["heldOutBitsPerByte"] < 9 for r in result["runs"])
    assert "cross-patch rotary" in capsys.readouterr().out.split("held-out bits per byte")[-1]
    # No variant adds a parameter, so the seed gives each the same initial weights.
    from megabyte_torch.bench_rotary import VARIANTS, config_of

    initial = []
    for variant in VARIANTS:
        torch.manual_seed(0)
        initial.append(create_model(parse_config(config_of(variant, 4))).state_dict())
    assert all(torch.equal(t, other[n]) for other in initial[1:] for n, t in initial[0].items())
    assert all(initial[0].keys() == other.keys() for other in initial[1:])
