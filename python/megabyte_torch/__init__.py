"""megabyte_torch: MEGABYTE and the baseline transformer of megabyte-ts in PyTorch, on the same checkpoints."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import ConfigError, ModelConfig, parse_config
from .model import ByteModel, MegabyteModel, TransformerModel, create_model

__all__ = [
    "ByteModel", "CheckpointError", "ConfigError", "MegabyteModel", "ModelConfig", "TransformerModel",
    "create_model", "load_checkpoint", "parse_config", "save_checkpoint",
]
