"""tinytorch.safetensors: read and write .safetensors files, like `safetensors.torch` (save_file, load_file)
and `safetensors.safe_open`.

Re-exports only; the code is tinytorch/core/training.py, generated from modules/07_training.
"""

from tinytorch.core.training import SerializationError, load_file, load_file_metadata, safe_open, save_file

__all__ = ["SerializationError", "load_file", "load_file_metadata", "safe_open", "save_file"]
