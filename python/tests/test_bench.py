"""python -m megabyte_torch.bench, the PyTorch side of `megabyte bench train`, per CONTRACTS.md."""

import json
import os
import subprocess
import sys

import pytest

from megabyte_torch.bench import main

PYTHON = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(PYTHON, "tests", "fixtures", "three-levels", "config.json")
KEYS = {"engine", "mode", "bytesPerSecond", "msPerStep", "parameters", "threads", "torch", "batch", "length", "steps"}


@pytest.mark.parametrize("mode", ["train", "generate"])
def test_it_measures_and_writes_the_contract_json(mode, tmp_path, capsys):
    out = tmp_path / "result.json"
    flags = ["--config", CONFIG, "--mode", mode, "--batch", "2", "--length", "32", "--steps", "2", "--warmup", "1",
             "--threads", "1", "--seed", "3", "--json", str(out)]
    assert main(flags) == 0
    result = json.loads(out.read_text())
    assert KEYS <= set(result)
    assert result["engine"] == "pytorch" and result["mode"] == mode and result["batch"] == 2
    assert result["parameters"] == 33792 and result["bytesPerSecond"] > 0 and result["msPerStep"] > 0
    assert capsys.readouterr().out.count("\n") == 1


def test_exit_code_3_without_torch():
    code = "import sys; sys.modules['torch'] = None; from megabyte_torch.bench import main; " \
           f"sys.exit(main(['--config', {CONFIG!r}, '--mode', 'train', '--length', '8']))"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": PYTHON},
                          capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stderr.strip().count("\n") == 0 and "torch is not installed" in done.stderr


def test_a_length_beyond_the_context_is_refused(capsys):
    assert main(["--config", CONFIG, "--mode", "generate", "--length", "33"]) == 2
    assert "--length 33 exceeds the model's context of 32" in capsys.readouterr().err
