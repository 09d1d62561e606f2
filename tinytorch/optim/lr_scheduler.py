"""tinytorch.optim.lr_scheduler: learning-rate schedules, like torch.optim.lr_scheduler. Re-exports only."""

from tinytorch.core.optimizers import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    SequentialLR,
    StepLR,
)
