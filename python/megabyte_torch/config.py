"""Model configs exactly as megabyte-ts writes them in config.json.

Both MEGABYTE forms are read: the canonical `levels` list (outermost first, the last entry the
byte level) and the legacy `patchSize` + `global` + `middle[]` + `local`. Either becomes one
`ModelConfig` whose `levels` drive the model; `to_json` writes the `levels` form. Every option the
TypeScript model does not know is an error that names it, so a newer checkpoint never loads as a
silently different model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

PAD_ID = 256
BOUNDARY_ID = 257
VOCAB_SIZE = 258
# 2: a byte level with cross-patch attention and no "rotary" has rotary embeddings (1: it had none).
CHECKPOINT_FORMAT_VERSION = 2

COMMON_DEFAULTS: dict[str, Any] = {
    "vocabSize": VOCAB_SIZE,
    "mlpRatio": 4,
    "activation": "gelu",
    "norm": "layernorm",
    "bias": False,
    "dropout": 0.0,
    "initStd": 0.02,
    "tieHead": False,
}
COMMON_KEYS = {"kind", "contextLength", "formatVersion", *COMMON_DEFAULTS}
MEGABYTE_KEYS = COMMON_KEYS | {"levels", "patchSize", "global", "middle", "local"}
TRANSFORMER_KEYS = COMMON_KEYS | {"dim", "layers", "heads"}
PATCH_LEVEL_KEYS = {"patchSize", "byteDim", "layers", "heads", "convKernels"}
BYTE_LEVEL_KEYS = {"dim", "layers", "heads", "crossPatch", "rotary"}


class ConfigError(ValueError):
    """A config that megabyte_torch cannot build a model from; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid model config:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class PatchLevel:
    """A level that runs a transformer over patches: the global model, or a middle level."""

    patch_size: int
    byte_dim: int
    layers: int
    heads: int
    conv_kernels: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return self.patch_size * self.byte_dim


@dataclass(frozen=True)
class ByteLevel:
    """The last (local) level: a transformer over the bytes of one patch of the level above."""

    dim: int
    layers: int
    heads: int
    cross_patch: int = 0
    # Rotary position embeddings in the local attention (see bench_rotary.py for what they change).
    # Absent or false: learned absolute positions only.
    rotary: bool = False


@dataclass(frozen=True)
class ModelConfig:
    kind: str
    vocab_size: int
    context_length: int
    mlp_ratio: float
    activation: str
    norm: str
    bias: bool
    dropout: float
    init_std: float
    tie_head: bool
    # MEGABYTE: patch levels outermost first, then the byte level.
    patch_levels: tuple[PatchLevel, ...] = ()
    byte_level: ByteLevel | None = None
    # The baseline transformer.
    dim: int = 0
    layers: int = 0
    heads: int = 0
    # Which MEGABYTE form the file used, so that a checkpoint is written back the way it was read.
    legacy_form: bool = field(default=False, compare=False)

    @property
    def patch_size(self) -> int:
        """P of the outermost level: inputs are padded to a multiple of it."""
        return self.patch_levels[0].patch_size if self.kind == "megabyte" else 1

    def to_json(self) -> dict[str, Any]:
        """The config as megabyte-ts writes it (with formatVersion)."""
        common = {
            "vocabSize": self.vocab_size,
            "mlpRatio": _plain_number(self.mlp_ratio),
            "activation": self.activation,
            "norm": self.norm,
            "bias": self.bias,
            "dropout": _plain_number(self.dropout),
            "initStd": self.init_std,
            "tieHead": self.tie_head,
            "kind": self.kind,
            "contextLength": self.context_length,
        }
        if self.kind == "transformer":
            return {**common, "dim": self.dim, "layers": self.layers, "heads": self.heads,
                    "formatVersion": CHECKPOINT_FORMAT_VERSION}
        assert self.byte_level is not None
        local = {"dim": self.byte_level.dim, "layers": self.byte_level.layers, "heads": self.byte_level.heads}
        if self.byte_level.cross_patch:
            local["crossPatch"] = self.byte_level.cross_patch
        if self.byte_level.rotary or self.byte_level.cross_patch:
            local["rotary"] = self.byte_level.rotary
        patch_levels = []
        for level in self.patch_levels:
            entry: dict[str, Any] = {"patchSize": level.patch_size, "byteDim": level.byte_dim,
                                     "layers": level.layers, "heads": level.heads}
            if level.conv_kernels:
                entry["convKernels"] = list(level.conv_kernels)
            patch_levels.append(entry)
        if self.legacy_form:
            outer, *middle = patch_levels
            body: dict[str, Any] = {"patchSize": outer.pop("patchSize"), "global": outer}
            if middle:
                body["middle"] = middle
            body["local"] = local
        else:
            body = {"levels": [*patch_levels, local]}
        return {**common, **body, "formatVersion": CHECKPOINT_FORMAT_VERSION}


def _plain_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _describe(value: Any) -> str:
    if value is _MISSING:
        return "nothing (the field is missing)"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


_MISSING = object()


class _Checker:
    """Collects every problem of a config, each naming its field, before raising once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def integer(self, path: str, value: Any, minimum: int = 1) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < minimum:
            self.problems.append(f"{path}: expected an integer >= {minimum}, got {_describe(value)}")
            return False
        return True

    def unknown(self, path: str, section: dict[str, Any], known: set[str]) -> None:
        for key in section:
            if key not in known:
                where = f"{path}.{key}" if path else key
                self.problems.append(
                    f"{where}: unknown option {_describe(section[key])} (megabyte_torch knows "
                    f"{', '.join(sorted(known))}); a newer megabyte-ts wrote it? upgrade megabyte_torch")

    def section(self, path: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected an object, got {_describe(value)}")
            return {}
        return value

    def heads_divide(self, path: str, width: int, heads: Any) -> None:
        if self.integer(f"{path}.heads", heads) and width % int(heads) != 0:
            self.problems.append(f"{path}.heads: {heads} heads must divide the width {width}")


def parse_config(raw: Any) -> ModelConfig:
    """A config.json object (either MEGABYTE form, or the baseline) -> ModelConfig, checked."""
    if not isinstance(raw, dict):
        raise ConfigError([f"a model config must be a JSON object, got {_describe(raw)}"])
    version = raw.get("formatVersion", CHECKPOINT_FORMAT_VERSION)
    if version not in (1, CHECKPOINT_FORMAT_VERSION):
        raise ConfigError([
            f"formatVersion: the file has {_describe(version)}, megabyte_torch reads 1 and "
            f"{CHECKPOINT_FORMAT_VERSION}: upgrade megabyte_torch to read it"])
    kind = raw.get("kind", "megabyte")
    if kind not in ("megabyte", "transformer"):
        raise ConfigError([f'kind: expected "megabyte" or "transformer", got {_describe(kind)}'])
    check = _Checker()
    check.unknown("", raw, MEGABYTE_KEYS if kind == "megabyte" else TRANSFORMER_KEYS)
    merged = {**COMMON_DEFAULTS, **raw}
    check.integer("vocabSize", merged["vocabSize"], 256)
    check.integer("contextLength", merged.get("contextLength", _MISSING))
    if isinstance(merged["mlpRatio"], bool) or not isinstance(merged["mlpRatio"], (int, float)) \
            or not merged["mlpRatio"] > 0:
        check.problems.append(f"mlpRatio: expected a number > 0, got {_describe(merged['mlpRatio'])}")
    if merged["activation"] not in ("gelu", "relu"):
        check.problems.append(f'activation: expected "gelu" or "relu", got {_describe(merged["activation"])}')
    if merged["norm"] not in ("layernorm", "rmsnorm"):
        check.problems.append(f'norm: expected "layernorm" or "rmsnorm", got {_describe(merged["norm"])}')
    for flag in ("bias", "tieHead"):
        if not isinstance(merged[flag], bool):
            check.problems.append(f"{flag}: expected true or false, got {_describe(merged[flag])}")
    dropout = merged["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        check.problems.append(f"dropout: expected a number in [0, 1), got {_describe(dropout)}")
    init_std = merged["initStd"]
    if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or not init_std > 0:
        check.problems.append(f"initStd: expected a number > 0, got {_describe(init_std)}")

    common = dict(
        kind=kind,
        vocab_size=_int(merged["vocabSize"]),
        context_length=_int(merged.get("contextLength")),
        mlp_ratio=merged["mlpRatio"],
        activation=merged["activation"],
        norm=merged["norm"],
        bias=merged["bias"],
        dropout=float(dropout) if isinstance(dropout, (int, float)) else 0.0,
        init_std=init_std,
        tie_head=merged["tieHead"],
    )
    if kind == "transformer":
        check.integer("layers", merged.get("layers", _MISSING))
        if check.integer("dim", merged.get("dim", _MISSING)):
            check.heads_divide("transformer", int(merged["dim"]), merged.get("heads", _MISSING))
        if check.problems:
            raise ConfigError(check.problems)
        return ModelConfig(**common, dim=int(merged["dim"]), layers=int(merged["layers"]),
                           heads=int(merged["heads"]))

    legacy = "levels" not in raw
    levels = _legacy_levels(raw, check) if legacy else _levels(raw, check)
    if check.problems:
        raise ConfigError(check.problems)
    patch_levels, byte_level = _check_levels(levels, common["context_length"], check, rotary_by_default=version != 1)
    if check.problems:
        raise ConfigError(check.problems)
    return ModelConfig(**common, patch_levels=patch_levels, byte_level=byte_level, legacy_form=legacy)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _legacy_levels(raw: dict[str, Any], check: _Checker) -> list[tuple[str, dict[str, Any]]]:
    """`patchSize` + `global` + `middle[]` + `local` -> the levels list, each with its path for errors."""
    glob = check.section("global", raw.get("global", _MISSING))
    check.unknown("global", glob, PATCH_LEVEL_KEYS - {"patchSize"})
    levels = [("global", {**glob, "patchSize": raw.get("patchSize", _MISSING)})]
    middle = raw.get("middle", [])
    if not isinstance(middle, list):
        check.problems.append(f"middle: expected a list of levels, got {_describe(middle)}")
        middle = []
    for i, level in enumerate(middle):
        path = f"middle[{i}]"
        section = check.section(path, level)
        check.unknown(path, section, PATCH_LEVEL_KEYS - {"convKernels"})
        levels.append((path, section))
    local = check.section("local", raw.get("local", _MISSING))
    check.unknown("local", local, BYTE_LEVEL_KEYS)
    levels.append(("local", local))
    return levels


def _levels(raw: dict[str, Any], check: _Checker) -> list[tuple[str, dict[str, Any]]]:
    for name in ("patchSize", "global", "middle", "local"):
        if name in raw:
            check.problems.append(f"{name}: a config has either `levels` or `patchSize`/`global`/`local`, not both")
    levels = raw["levels"]
    if not isinstance(levels, list) or len(levels) < 2:
        check.problems.append(f"levels: expected a list of at least two levels, got {_describe(levels)}")
        return []
    out = []
    for i, level in enumerate(levels):
        path = f"levels[{i}]"
        section = check.section(path, level)
        last = i == len(levels) - 1
        check.unknown(path, section, BYTE_LEVEL_KEYS if last else
                      PATCH_LEVEL_KEYS if i == 0 else PATCH_LEVEL_KEYS - {"convKernels"})
        out.append((path, section))
    return out


def _check_levels(levels: list[tuple[str, dict[str, Any]]], context_length: int,
                  check: _Checker, rotary_by_default: bool = True) -> tuple[tuple[PatchLevel, ...], ByteLevel]:
    patch_levels: list[PatchLevel] = []
    above = context_length
    for index, (path, level) in enumerate(levels[:-1]):
        patch = level.get("patchSize", _MISSING)
        byte_dim = level.get("byteDim", _MISSING)
        ok = check.integer(f"{path}.patchSize", patch) & check.integer(f"{path}.byteDim", byte_dim)
        check.integer(f"{path}.layers", level.get("layers", _MISSING))
        if ok:
            patch, byte_dim = int(patch), int(byte_dim)
            if index == 0 and above % patch != 0:
                check.problems.append(f"contextLength: {above} must be a multiple of patchSize {patch}")
            elif index > 0 and (patch >= above or above % patch != 0):
                check.problems.append(
                    f"{path}.patchSize: {patch} must be smaller than the patch of the level above ({above}) "
                    "and divide it")
            check.heads_divide(path, patch * byte_dim, level.get("heads", _MISSING))
            above = patch
        kernels = level.get("convKernels", [])
        if not isinstance(kernels, list):
            check.problems.append(f"{path}.convKernels: expected a list of kernel sizes, got {_describe(kernels)}")
            kernels = []
        for k, size in enumerate(kernels):
            check.integer(f"{path}.convKernels[{k}]", size, 2)
        if not check.problems:
            patch_levels.append(PatchLevel(patch, byte_dim, int(level["layers"]), int(level["heads"]),
                                           tuple(int(k) for k in kernels)))
    path, local = levels[-1]
    check.integer(f"{path}.layers", local.get("layers", _MISSING))
    if check.integer(f"{path}.dim", local.get("dim", _MISSING)):
        check.heads_divide(path, int(local["dim"]), local.get("heads", _MISSING))
    cross = local.get("crossPatch", 0)
    if check.integer(f"{path}.crossPatch", cross, 0) and int(cross) > above:
        check.problems.append(f"{path}.crossPatch: {cross} is more than the local patch of {above} bytes")
    # Absent: rotary embeddings with cross-patch attention (format 1 had none), none without it.
    rotary = local.get("rotary", rotary_by_default and isinstance(cross, int) and cross > 0)
    if not isinstance(rotary, bool):
        check.problems.append(f"{path}.rotary: expected true or false, got {_describe(rotary)}")
    elif rotary and not check.problems and int(local["dim"]) // int(local["heads"]) % 2:
        check.problems.append(
            f"{path}.rotary: rotary embeddings turn pairs of a head's {int(local['dim']) // int(local['heads'])} "
            "dimensions, which must be even: change dim or heads")
    if check.problems:
        return (), ByteLevel(0, 0, 0)
    return tuple(patch_levels), ByteLevel(int(local["dim"]), int(local["layers"]), int(local["heads"]), int(cross),
                                          rotary)


def hidden_dim(dim: int, mlp_ratio: float) -> int:
    """MLP hidden width: JavaScript's Math.round(dim * ratio) (halves round up, unlike Python's round)."""
    return math.floor(dim * mlp_ratio + 0.5)
