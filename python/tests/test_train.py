"""Training under torchrun: process count does not change the result, and resume is exact."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from megabyte_torch import create_model, load_checkpoint, parse_config
from megabyte_torch import safetensors

PYTHON = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = {"kind": "megabyte", "contextLength": 32, "mlpRatio": 2, "patchSize": 8,
          "global": {"byteDim": 4, "layers": 1, "heads": 2},
          "local": {"dim": 16, "layers": 1, "heads": 2, "crossPatch": 2}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    data = root / "data"
    data.mkdir()
    words = b"the of and to a in that is was he for it with as his on be at by".split()
    for d in range(5):
        text = b" ".join(words[(i * 7 + d * 3) % len(words)] for i in range(300))
        (data / f"doc{d}.txt").write_bytes(text)
    (root / "config.json").write_text(json.dumps(CONFIG))
    return root


def train(root, run, *flags, processes=1):
    """Runs megabyte_torch.train in `processes` processes with the environment torchrun gives each
    (RANK, WORLD_SIZE, MASTER_ADDR, ...): Debian's torch 1.13 torchrun fails on Python 3.11."""
    command = [sys.executable, "-m", "megabyte_torch.train", "--data", str(root / "data"), "--run", str(root / run),
               "--threads", "1", "--eval-every", "0", *flags]
    env = {**os.environ, "PYTHONPATH": PYTHON, "OMP_NUM_THREADS": "1", "WORLD_SIZE": str(processes),
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(29500 + os.getpid() % 1000)}
    workers = [subprocess.Popen(command, env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for r in range(processes)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
    return outputs[0][0]


def weights(directory):
    return load_checkpoint(str(directory)).state_dict()


def test_two_gloo_processes_equal_one_with_the_same_global_batch(setup):
    common = ["--config", str(setup / "config.json"), "--steps", "3", "--batch", "4", "--warmup", "1"]
    train(setup, "one", *common)
    train(setup, "two", *common, processes=2)
    train(setup, "accumulated", *common, "--accumulation", "2")
    one = weights(setup / "one" / "checkpoints" / "step-0000003")
    for other in ("two", "accumulated"):
        theirs = weights(setup / other / "checkpoints" / "step-0000003")
        for name, tensor in one.items():
            assert torch.allclose(theirs[name], tensor, rtol=1e-5, atol=1e-6), (other, name)
    torch.manual_seed(0)
    initial = create_model(parse_config(CONFIG)).state_dict()
    assert (one["local.project.weight"] - initial["local.project.weight"]).abs().max() > 1e-3  # it did train


def test_resume_continues_exactly(setup):
    common = ["--config", str(setup / "config.json"), "--steps", "4", "--batch", "2", "--warmup", "1",
              "--checkpoint-every", "2", "--keep-last", "5"]
    train(setup, "straight", *common)
    # The same run stopped after step 2: only its step-2 checkpoint is left.
    shutil.copytree(setup / "straight" / "checkpoints" / "step-0000002", setup / "stopped" / "checkpoints" / "step-0000002")
    train(setup, "stopped", "--resume", str(setup / "stopped"))
    straight = setup / "straight" / "checkpoints" / "step-0000004"
    resumed = setup / "stopped" / "checkpoints" / "step-0000004"
    assert (straight / "model.safetensors").read_bytes() == (resumed / "model.safetensors").read_bytes()
    assert (straight / "optimizer.safetensors").read_bytes() == (resumed / "optimizer.safetensors").read_bytes()
    for path in (straight, resumed):
        trainer = json.loads((path / "trainer.json").read_text())
        assert trainer["step"] == 4 and trainer["sampler"]["windowsDrawn"] == 8 and trainer["optimizerStep"] == 4
    moments, _ = safetensors.decode((resumed / "optimizer.safetensors").read_bytes())
    assert set(moments) == {f"optimizer.{k}.{n}" for k in "mv" for n in weights(resumed)}


def test_a_run_from_a_newer_format_is_named(setup):
    train(setup, "newer", "--config", str(setup / "config.json"), "--steps", "1", "--batch", "1")
    path = setup / "newer" / "checkpoints" / "step-0000001" / "trainer.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "formatVersion": 9}))
    command = [sys.executable, "-m", "megabyte_torch.train", "--data", str(setup / "data"), "--resume",
               str(setup / "newer")]
    done = subprocess.run(command, env={**os.environ, "PYTHONPATH": PYTHON}, capture_output=True, text=True)
    assert done.returncode == 1
    assert "trainer.json: formatVersion 9; megabyte_torch reads 1" in done.stderr
