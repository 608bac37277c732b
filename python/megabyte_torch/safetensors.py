"""The safetensors format, parsed here so that the only dependencies are torch and numpy.

An 8-byte little-endian header length N, N bytes of JSON naming each tensor's dtype, shape and
byte range, then the raw little-endian data. Writing lays tensors out as megabyte-ts does (by
element size, largest first, then by name), so the same tensors give the same bytes.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Mapping

import numpy as np
import torch

_NUMPY = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
_FROM_TORCH = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
               torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}
_SIZE = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4,
         "F16": 2, "BF16": 2, "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1}
_ALIGNMENT = 8
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def decode(data: bytes, source: str = "model.safetensors") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """safetensors bytes -> (tensors by name in file order, float dtypes as stored; metadata)."""
    if len(data) < 8:
        raise SafetensorsError(f"{source}: {len(data)} bytes is too short for a safetensors file (8-byte header length)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(_MAX_HEADER, len(data) - 8):
        raise SafetensorsError(f"{source}: header length {length} runs past the end of the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(f"{source}: the header is not JSON: {error}") from error
    if not isinstance(header, dict):
        raise SafetensorsError(f"{source}: the header must be a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + length:]
    tensors: dict[str, torch.Tensor] = {}
    for name, entry in sorted(header.items(), key=lambda item: _offsets(item, source)[0]):
        dtype, shape = entry.get("dtype"), entry.get("shape")
        if dtype not in _NUMPY:
            raise SafetensorsError(f"{source}: tensor {name} has dtype {dtype!r}, which megabyte_torch does not read")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise SafetensorsError(f"{source}: tensor {name} has shape {shape!r}, expected a list of sizes")
        start, end = _offsets((name, entry), source)
        count = int(np.prod(shape, dtype=np.int64))
        if end - start != count * _SIZE[dtype] or end > len(body):
            raise SafetensorsError(
                f"{source}: tensor {name} ({dtype} {shape}) needs {count * _SIZE[dtype]} bytes, its range is "
                f"[{start}, {end}) of {len(body)}")
        array = np.frombuffer(body[start:end], dtype=np.dtype(_NUMPY[dtype]).newbyteorder("<"), count=count)
        array = array.astype(array.dtype.newbyteorder("="))
        if dtype == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)  # bfloat16: the top half of a float32
        elif dtype in ("U16", "U32", "U64"):
            array = array.astype(np.int64)  # torch has no unsigned types beyond uint8
        tensor = torch.from_numpy(array.copy()).reshape(shape)
        tensors[name] = tensor
    return tensors, {str(k): str(v) for k, v in metadata.items()}


def _offsets(item: tuple[str, dict], source: str) -> tuple[int, int]:
    name, entry = item
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise SafetensorsError(f"{source}: tensor {name} has data_offsets {offsets!r}, expected [start, end]")
    return offsets[0], offsets[1]


def encode(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """Tensors -> safetensors bytes (float32 stays F32, float16 F16, ...)."""
    entries = []
    for name, tensor in tensors.items():
        dtype = _FROM_TORCH.get(tensor.dtype)
        if dtype is None:
            raise SafetensorsError(f"tensor {name}: dtype {tensor.dtype} cannot be stored")
        entries.append((name, dtype, tensor))
    entries.sort(key=lambda e: (-_SIZE[e[1]], e[0]))
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, dtype, tensor in entries:
        raw = _raw_bytes(tensor)
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % _ALIGNMENT)  # data starts aligned, as the format recommends
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    tensor = tensor.detach().to("cpu").contiguous()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().astype("<i2").tobytes()
    array = tensor.numpy()
    return array.astype(array.dtype.newbyteorder("<")).tobytes()


def write_atomic(path: str, data: bytes) -> None:
    """Writes to a temporary sibling, fsyncs, renames: never a half-written file under `path`."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
