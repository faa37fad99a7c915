"""`th.callbacks`: the training callbacks, which live in `theon.nn.callbacks` (and
TensorBoard, in `theon.nn.tensorboard`)."""
from .nn.callbacks import (
                           Callback,
                           CSVLogger,
                           EarlyStopping,
                           History,
                           LearningRateScheduler,
                           ModelCheckpoint,
                           ProgressDisplay,
                           format_logs,
)
from .nn.tensorboard import TensorBoard

__all__ = [
                           "CSVLogger",
                           "Callback",
                           "EarlyStopping",
                           "History",
                           "LearningRateScheduler",
                           "ModelCheckpoint",
                           "ProgressDisplay",
                           "TensorBoard",
                           "format_logs",
]
