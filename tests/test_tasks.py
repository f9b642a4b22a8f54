"""The showcase tasks: generators, baselines, grammar, corpus split, models."""
import math

import numpy as np
import pytest

import minigrad as mg
from models.tasks import CELL_KINDS, TASKS, get_task
from models.tasks import adding, charlm, copy_memory, reber
from models.tasks.base import step_cross_entropy


def _same_batches(task, seed=3, batch_size=4):
    first = task.train_stream(seed, batch_size).next_batch()
    second = task.train_stream(seed, batch_size).next_batch()
    other = task.train_stream(seed + 1, batch_size).next_batch()
    return first, second, other


# --------------------------------------------------------------------------- adding

def test_adding_shapes_markers_and_target():
    x, y = adding.adding_batch(np.random.default_rng(0), 8, 30)
    assert x.shape == (30, 8, 2) and y.shape == (8, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    markers = x[..., 1]
    assert (markers.sum(axis=0) == 2).all(), "exactly two markers per sequence"
    assert (markers[:15].sum(axis=0) == 1).all(), "one marker in the first half"
    assert (markers[15:].sum(axis=0) == 1).all(), "one marker in the second half"
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=0), rtol=1e-6)


def test_adding_baseline_of_predicting_one_is_one_sixth():
    _, y = adding.adding_batch(np.random.default_rng(1), 200_000, 4)
    mse = float(((y - 1.0) ** 2).mean())
    assert abs(mse - 1 / 6) < 0.003, f"predicting 1 scored MSE {mse}, expected ~0.167"
    assert adding.BASELINE_MSE == pytest.approx(0.1667, abs=1e-4)


def test_streams_are_reproducible_from_the_seed_and_resumable():
    task = get_task("adding", seq_len=12, test_size=10)
    (x1, y1), (x2, y2), (x3, _) = _same_batches(task)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    stream = task.train_stream(5, 3)
    stream.next_batch()
    saved = stream.state_dict()
    expected = stream.next_batch()
    restored = task.train_stream(99, 3)
    restored.load_state_dict(saved)
    np.testing.assert_array_equal(restored.next_batch()[0], expected[0])


def test_adding_test_set_is_fixed_and_untouched_by_training_data():
    a = get_task("adding", seq_len=10, test_size=20)
    b = get_task("adding", seq_len=10, test_size=20)
    np.testing.assert_array_equal(a.test_x, b.test_x)


# --------------------------------------------------------------------------- Reber

def test_reber_strings_are_in_the_grammar():
    rng = np.random.default_rng(0)
    strings = [reber.generate(rng) for _ in range(500)]
    assert all(reber.is_valid(s) for s in strings)
    for s in strings:
        assert s[0] == "B" and s[-1] == "E" and s[1] in "TP"
        assert s[-2] == s[1], "the embedded grammar repeats the branch symbol"
        assert s[2] == "B" and s[-3] == "E"
    assert {s[1] for s in strings} == {"T", "P"}
    assert len(set(strings)) > 50


def test_reber_rejects_strings_outside_the_grammar():
    assert reber.is_valid("BTBTXSETE")
    assert reber.is_valid("BPBPVVEPE")
    assert not reber.is_valid("BTBTXSEPE"), "the long-lag symbol must match"
    assert not reber.is_valid("BTBTXXE")
    assert not reber.is_valid("BTBTXSET")   # stops early


def test_reber_legal_next_sets():
    legal = reber.legal_next("BTBTXSETE")
    assert legal[0] == {"T", "P"}              # after B
    assert legal[1] == {"B"}                   # after the branch symbol
    assert legal[2] == {"T", "P"}              # inner string starts
    assert legal[-2] == {"T"}                  # after the inner E: remembered branch
    assert legal[-1] == {"E"}
    assert len(legal) == len("BTBTXSETE") - 1


def test_reber_batches_pad_inputs_and_ignore_padded_targets():
    strings = ["BTBTXSETE", "BPBPTTTVVEPE"]
    inputs, targets, lengths = reber.encode(strings)
    assert inputs.shape == targets.shape == (11, 2)
    assert lengths == [8, 11]
    assert (inputs[8:, 0] == reber.PAD).all() and (targets[8:, 0] == reber.IGNORE).all()
    assert "".join(reber.SYMBOLS[i] for i in targets[:, 1]) == strings[1][1:]


# --------------------------------------------------------------------------- copy memory

def test_copy_memory_layout():
    inputs, targets = copy_memory.copy_batch(np.random.default_rng(0), 5, delay=30)
    assert inputs.shape == targets.shape == (50, 5)
    assert ((inputs[:10] >= 1) & (inputs[:10] <= 8)).all()
    assert (inputs[10:39] == copy_memory.BLANK).all()            # T - 1 blanks
    assert (inputs[39] == copy_memory.DELIMITER).all()
    assert (inputs[40:] == copy_memory.BLANK).all()
    assert (targets[:40] == copy_memory.BLANK).all()
    np.testing.assert_array_equal(targets[40:], inputs[:10])


def test_copy_memory_baseline_formula():
    task = get_task("copy", seq_len=100, test_size=8)
    assert task.baseline == pytest.approx(10 * math.log(8) / 120)
    # the baseline is what blanks-then-uniform scores: check it on data
    _, targets = copy_memory.copy_batch(np.random.default_rng(0), 4, 100)
    logits = np.full(targets.shape + (9,), -1e9)
    logits[:-10, :, 0] = 0.0
    logits[-10:, :, 1:] = 0.0
    loss = step_cross_entropy(mg.tensor(logits), targets).item()
    assert loss == pytest.approx(task.baseline, rel=1e-6)


# --------------------------------------------------------------------------- char LM

def test_charlm_split_is_by_file_and_deterministic():
    files = charlm.stdlib_files()
    assert len(files) > 100
    names = [name for name, _ in files]
    validation = [n for n in names if charlm.is_validation(n)]
    train = [n for n in names if not charlm.is_validation(n)]
    assert not set(validation) & set(train)
    assert 0.04 < len(validation) / len(names) < 0.2
    assert validation == [n for n in names if charlm.is_validation(n)]   # same again


def test_charlm_encoding_round_trips_ascii_and_marks_the_rest():
    codes = charlm.encode_text("def f(x):\n\treturn x  # é")
    assert charlm.decode(codes) == "def f(x):\n\treturn x  # ?"
    assert codes[-1] == charlm.UNKNOWN


def test_charlm_stream_carries_on_and_wraps():
    codes = np.arange(1000) % 90
    stream = charlm.TextStream(codes, seq_len=10, batch_size=4)
    x1, y1, fresh1 = stream.next_batch()
    x2, _, fresh2 = stream.next_batch()
    assert fresh1 and not fresh2
    np.testing.assert_array_equal(y1[:-1], x1[1:])
    np.testing.assert_array_equal(x2[0], y1[-1])      # the next chunk continues the text
    state = stream.state_dict()
    expected = stream.next_batch()[0]
    stream.load_state_dict(state)
    np.testing.assert_array_equal(stream.next_batch()[0], expected)
    for _ in range(30):
        *_, fresh = stream.next_batch()
    assert stream.epoch >= 1


def test_charlm_sampling_follows_temperature():
    task = get_task("charlm", seq_len=8, max_chars=20_000, val_chars=2_000)
    model = task.build_model("gru", 16)
    text = charlm.sample(model, "def ", 20, temperature=0.5, seed=1)
    assert text.startswith("def ") and len(text) == 24
    assert text == charlm.sample(model, "def ", 20, temperature=0.5, seed=1)
    with pytest.raises(ValueError):
        charlm.sample(model, "x", 5, temperature=0)


# --------------------------------------------------------------------------- models

@pytest.mark.parametrize("cell", CELL_KINDS)
def test_every_cell_kind_builds_and_trains_on_every_task(cell):
    for name in TASKS:
        options = dict(max_chars=5_000, val_chars=500) if name == "charlm" else \
            dict(test_size=4)
        task = get_task(name, seq_len=6, **options)
        model = task.build_model(cell, 8)
        batch = task.train_stream(0, 2).next_batch()
        loss, _ = task.loss(model, batch)
        loss.backward()
        assert math.isfinite(loss.item())
        assert all(p.grad is not None for p in model.parameters()), f"{name}/{cell}"


def test_a_custom_cell_plugs_in_by_module_and_class():
    task = get_task("adding", seq_len=5, test_size=4)
    model = task.build_model("models.cells:LSTMCell", 6)
    loss, _ = task.loss(model, task.train_stream(0, 3).next_batch())
    assert math.isfinite(loss.item())
    with pytest.raises(ValueError, match="unknown cell"):
        task.build_model("nonsense", 4)


def test_forget_bias_is_added_to_the_forget_gate():
    task = get_task("adding", seq_len=5, test_size=4)
    mg.manual_seed(0)
    plain = task.build_model("lstm", 4, forget_bias=0.0).state_dict()["recurrent.bias_ih_l0"]
    mg.manual_seed(0)
    biased = task.build_model("lstm", 4, forget_bias=1.0).state_dict()["recurrent.bias_ih_l0"]
    np.testing.assert_allclose(biased - plain, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])


def test_evaluations_report_the_metric_and_the_solved_flag():
    for name in ("adding", "reber", "copy"):
        task = get_task(name, seq_len=8, test_size=6)
        metrics = task.evaluate(task.build_model("lstm", 8))
        assert isinstance(metrics["metric"], float) and metrics["solved"] in (True, False)
