"""Greff et al. 2015's LSTM variant study ("LSTM: A Search Space Odyssey") on Optuna.

- :mod:`models.study.trials`: the search space, the presets, one trial's training;
- :mod:`models.study.workers`: the studies in Optuna's storage and the worker loop
  (heartbeats, retries of killed workers' trials, an exact budget);
- :mod:`models.study.report`: box plots, best trials, Welch's t-tests, fANOVA, and
  the Markdown report;
- ``python -m models.study run | status | report``: the command line (docs/study.md).

Needs the ``study`` extra (``pip install -e '.[study]'``: Optuna, music21, SciPy,
SQLAlchemy, a PostgreSQL driver).
"""
