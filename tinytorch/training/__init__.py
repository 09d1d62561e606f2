"""tinytorch.training: the Trainer, callbacks, metrics and checkpoints. Re-exports only; the code is
tinytorch/core/training.py, generated from modules/07_training."""

from tinytorch.core.training import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    Callback,
    CheckpointError,
    EarlyStopping,
    History,
    ModelCheckpoint,
    PrecisionRecallF1,
    ProgressBar,
    Trainer,
    accuracy,
    confusion_matrix,
    evaluate_model,
    load_checkpoint,
    plot_confusion_matrix,
    plot_training_history,
    precision_recall_f1,
    save_checkpoint,
)
