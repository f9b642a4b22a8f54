"""The showcase tasks, by name.

>>> from minigrad.models.tasks import get_task
>>> task = get_task("adding", seq_len=20)
>>> x, y = task.train_stream(seed=0, batch_size=4).next_batch()
>>> x.shape, y.shape
((20, 4, 2), (4, 1))
"""
from __future__ import annotations

from .adding import AddingTask
from .base import SequenceModel, Task
from .charlm import CharLMTask
from .copy_memory import CopyMemoryTask
from .reber import ReberTask
from .recurrent import CELL_KINDS, LSTM_KINDS, build_recurrent

TASKS = {task.name: task for task in (AddingTask, ReberTask, CopyMemoryTask, CharLMTask)}


def get_task(name, **options):
    """The task called ``name`` (``adding``, ``reber``, ``copy``, ``charlm``), built with
    ``options`` (``seq_len``, ``seed``, and the task's own)."""
    try:
        task_class = TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}: choose one of {', '.join(TASKS)}") from None
    return task_class(**options)


__all__ = ["TASKS", "get_task", "Task", "SequenceModel", "AddingTask", "ReberTask",
           "CopyMemoryTask", "CharLMTask", "CELL_KINDS", "LSTM_KINDS", "build_recurrent"]
