"""Checkpoint directories of megabyte-ts: config.json + model.safetensors, same names and layouts.

A directory written here loads in @megabyte/core, the CLI and the web demo with no conversion, and
theirs load here. Loading checks the config (unknown options, newer format versions) and every
tensor's name and shape before any weight is copied, and reports every problem at once.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from typing import Mapping, Optional, Union

import torch

from . import safetensors
from .config import ConfigError, ModelConfig, parse_config
from .model import ByteModel, create_model

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class CheckpointError(ValueError):
    def __init__(self, context: str, problems: list[str], hint: str = ""):
        self.problems = problems
        text = f"{context}:\n  - " + "\n  - ".join(problems)
        super().__init__(text + (f"\n{hint}" if hint else ""))


def read_config(directory: str) -> ModelConfig:
    path = os.path.join(directory, CONFIG_FILE)
    try:
        with open(path, encoding="utf-8-sig") as file:  # editors on Windows may save a byte-order mark
            raw = json.load(file)
    except FileNotFoundError:
        raise CheckpointError(f"cannot load {directory}", [f"{CONFIG_FILE} is missing"],
                              "A checkpoint directory holds config.json and model.safetensors.") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"cannot read {path}", [f"not valid JSON: {error}"]) from error
    try:
        return parse_config(raw)
    except ConfigError as error:
        raise CheckpointError(f"cannot load {directory}: config.json is not a config megabyte_torch can build",
                              error.problems) from error


def load_checkpoint(directory: str, map_location: Union[str, torch.device] = "cpu") -> ByteModel:
    """A checkpoint directory -> the model with its weights (float32, eval mode)."""
    config = read_config(directory)
    path = os.path.join(directory, WEIGHTS_FILE)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise CheckpointError(f"cannot load {directory}", [f"{WEIGHTS_FILE} is missing"]) from None
    try:
        tensors, _ = safetensors.decode(data, path)
    except safetensors.SafetensorsError as error:
        raise CheckpointError(f"cannot load {directory}", [str(error)]) from error
    model = create_model(config)
    load_weights(model, tensors)
    return model.to(map_location).eval()


def load_weights(model: ByteModel, tensors: Mapping[str, torch.Tensor]) -> None:
    """Copies checked tensors into the model; every missing, unexpected or mis-shaped one is named."""
    expected = model.state_dict()
    problems = []
    for name, param in expected.items():
        found = tensors.get(name)
        if found is None:
            problems.append(f"missing: {name} (expected {list(param.shape)})")
        elif tuple(found.shape) != tuple(param.shape):
            problems.append(f"{name}: expected {list(param.shape)}, file has {list(found.shape)}")
    problems += [f"unexpected: {name} {list(t.shape)}" for name, t in tensors.items() if name not in expected]
    if problems:
        raise CheckpointError("checkpoint does not fit the model", problems,
                              "Load the weights with the config.json saved next to them.")
    with torch.no_grad():
        for name, param in expected.items():
            param.copy_(tensors[name].to(param.dtype))


def encode_weights(model: ByteModel, dtype: torch.dtype = torch.float32,
                   metadata: Optional[Mapping[str, str]] = None) -> bytes:
    tensors = {name: t.detach().to("cpu", dtype) for name, t in model.state_dict().items()}
    return safetensors.encode(tensors, {"format": "megabyte-ts", **(metadata or {})})


def save_checkpoint(model: ByteModel, directory: str, dtype: torch.dtype = torch.float32,
                    extra_files: Optional[Mapping[str, Union[str, bytes]]] = None,
                    config: Optional[ModelConfig] = None) -> None:
    """Writes the directory all or nothing: into a temporary sibling, then renamed into place."""
    directory = os.path.abspath(directory)
    if os.path.exists(directory) and os.listdir(directory) and \
            not os.path.exists(os.path.join(directory, CONFIG_FILE)):
        raise CheckpointError(f"refusing to write a checkpoint to {directory}",
                              ["it is a directory that holds no checkpoint"],
                              "Writing a checkpoint replaces the whole directory: choose a new one.")
    files: dict[str, Union[str, bytes]] = {
        CONFIG_FILE: json.dumps((config or model.config).to_json(), indent=2) + "\n",
        WEIGHTS_FILE: encode_weights(model, dtype),
        **(extra_files or {}),
    }
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    temporary = f"{directory}.tmp-{uuid.uuid4().hex[:12]}"
    os.makedirs(temporary)
    try:
        for name, content in files.items():
            with open(os.path.join(temporary, name), "wb") as file:
                file.write(content.encode("utf-8") if isinstance(content, str) else content)
                file.flush()
                os.fsync(file.fileno())
        backup = None
        if os.path.exists(directory):
            backup = f"{directory}.old-{uuid.uuid4().hex[:12]}"
            os.rename(directory, backup)
        os.rename(temporary, directory)
        if backup:
            shutil.rmtree(backup)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
