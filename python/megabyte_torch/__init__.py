"""megabyte_torch: MEGABYTE and the baseline transformer of megabyte-ts in PyTorch, on the same checkpoints.

Names are imported on first use, so that `python -m megabyte_torch.bench` can say that torch is
missing instead of failing on import.
"""

from importlib import import_module

_EXPORTS = {
    "CheckpointError": "checkpoint", "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
    "ConfigError": "config", "ModelConfig": "config", "parse_config": "config",
    "ByteModel": "model", "MegabyteModel": "model", "TransformerModel": "model", "create_model": "model",
    "generate": "generate",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'megabyte_torch' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
