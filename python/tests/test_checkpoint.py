"""Reading and writing megabyte-ts checkpoints, both config forms, and the errors for bad ones."""

import json
import os
import shutil

import pytest
import torch

from megabyte_torch import CheckpointError, ConfigError, load_checkpoint, parse_config, save_checkpoint
from megabyte_torch import safetensors

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
IDS = torch.tensor([list(b"Bytes, not tokens: \x00 MEGABYTE!")[:30]] * 2)


def copy_fixture(name, tmp_path):
    target = tmp_path / name
    shutil.copytree(os.path.join(FIXTURES, name), target)
    return target


def logits(model, ids=IDS):
    with torch.no_grad():
        return model(ids[:, : model.config.context_length])


def test_the_levels_form_builds_the_same_model_as_the_legacy_form(tmp_path):
    directory = copy_fixture("three-levels", tmp_path)
    legacy = load_checkpoint(str(directory))
    config = json.loads((directory / "config.json").read_text())
    levels = [{"patchSize": config["patchSize"], **config.pop("global")}, *config.pop("middle"), config.pop("local")]
    del config["patchSize"]
    (directory / "config.json").write_text(json.dumps({**config, "levels": levels}))
    canonical = load_checkpoint(str(directory))
    assert not canonical.config.legacy_form
    assert canonical.config.patch_levels == legacy.config.patch_levels
    assert torch.equal(logits(canonical), logits(legacy))


def test_a_saved_checkpoint_keeps_its_config_form_names_and_values(tmp_path):
    model = load_checkpoint(os.path.join(FIXTURES, "conv"))
    save_checkpoint(model, str(tmp_path / "again"))
    original = json.loads(open(os.path.join(FIXTURES, "conv", "config.json")).read())
    # Saved in the current format, the config otherwise as megabyte-ts wrote it.
    assert json.loads((tmp_path / "again" / "config.json").read_text()) == {**original, "formatVersion": 2}
    again = load_checkpoint(str(tmp_path / "again"))
    assert torch.equal(logits(again), logits(model))
    tensors, metadata = safetensors.decode((tmp_path / "again" / "model.safetensors").read_bytes())
    ts_tensors, _ = safetensors.decode(open(os.path.join(FIXTURES, "conv", "model.safetensors"), "rb").read())
    assert sorted(tensors) == sorted(ts_tensors)
    assert metadata["format"] == "megabyte-ts"


def test_float16_and_bfloat16_weights_load_widened(tmp_path):
    model = load_checkpoint(os.path.join(FIXTURES, "transformer"))
    for dtype in (torch.float16, torch.bfloat16):
        save_checkpoint(model, str(tmp_path / str(dtype)), dtype=dtype)
        narrow = load_checkpoint(str(tmp_path / str(dtype)))
        expected = {n: t.to(dtype).float() for n, t in model.state_dict().items()}
        assert all(torch.equal(t, expected[n]) for n, t in narrow.state_dict().items())


def test_an_unknown_option_is_named(tmp_path):
    directory = copy_fixture("cross-patch", tmp_path)
    config = json.loads((directory / "config.json").read_text())
    config["local"]["alibi"] = True
    config["sparsity"] = 0.5
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(str(directory))
    assert "local.alibi: unknown option" in str(error.value)
    assert "sparsity: unknown option" in str(error.value)


def test_a_newer_format_version_is_named(tmp_path):
    directory = copy_fixture("conv", tmp_path)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "formatVersion": 3}))
    with pytest.raises(CheckpointError, match=r"formatVersion: the file has 3, megabyte_torch reads 1 and 2"):
        load_checkpoint(str(directory))


def test_a_tensor_of_the_wrong_shape_or_name_is_named(tmp_path):
    directory = copy_fixture("conv", tmp_path)
    path = directory / "model.safetensors"
    tensors, _ = safetensors.decode(path.read_bytes())
    tensors["local.pad"] = torch.zeros(3)
    tensors["local.extra"] = torch.zeros(1)
    del tensors["global.pad"]
    path.write_bytes(safetensors.encode(tensors))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(str(directory))
    text = str(error.value)
    assert "local.pad: expected [8], file has [3]" in text
    assert "missing: global.pad" in text
    assert "unexpected: local.extra" in text


@pytest.mark.parametrize("change, message", [
    ({"activation": "swish"}, 'activation: expected "gelu" or "relu", got "swish"'),
    ({"contextLength": 30}, "contextLength: 30 must be a multiple of patchSize 4"),
    ({"local": {"dim": 8, "layers": 1, "heads": 3}}, "local.heads: 3 heads must divide the width 8"),
    ({"kind": "rnn"}, 'kind: expected "megabyte" or "transformer", got "rnn"'),
])
def test_bad_values_are_named(change, message):
    config = json.loads(open(os.path.join(FIXTURES, "conv", "config.json")).read())
    with pytest.raises(ConfigError) as error:
        parse_config({**config, **change})
    assert message in str(error.value)


def test_a_truncated_weights_file_is_an_error_not_a_crash(tmp_path):
    directory = copy_fixture("conv", tmp_path)
    path = directory / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="needs .* bytes"):
        load_checkpoint(str(directory))
