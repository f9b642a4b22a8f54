"""Shared fixtures.

Engine tests use the ``engine_backend`` fixture: each runs once on the active backend
(NumPy, or CuPy under MINIGRAD_BACKEND=cupy) and once on the device stand-in
(tests/standin.py), which refuses every silent conversion to NumPy.
"""
import pytest

import minigrad as mg
import standin

standin.register()
_DEFAULT = mg.get_backend()


@pytest.fixture(params=[_DEFAULT, "standin"])
def engine_backend(request):
    with mg.use_backend(request.param):
        mg.manual_seed(0)
        yield request.param


@pytest.fixture(autouse=True)
def _seeded():
    mg.manual_seed(0)
    yield
