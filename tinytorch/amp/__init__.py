"""tinytorch.amp: PyTorch's `torch.amp` loss scaling, plus float32 master weights (module 16). Re-exports only."""

from tinytorch.systems.acceleration import GradScaler, MasterWeights  # noqa: F401
