"""Optimizers with PyTorch's update rules (SGD, Adam, AdamW, RMSprop), and learning-rate
schedules in :mod:`minigrad.optim.lr_scheduler`."""
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
