"""models.plots: the gate heatmap of a trained task model, written as a PNG."""
import matplotlib
import matplotlib.pyplot as plt
import minigrad as mg
from models.plots import plot_gates
from models.tasks import get_task


def test_plot_gates_writes_a_png_and_keeps_the_chosen_backend(tmp_path):
    mg.manual_seed(0)
    task = get_task("adding", seq_len=12, test_size=4)
    model = task.build_model("lstm", hidden_size=4)
    example, marks = task.example()
    previous = matplotlib.get_backend()
    plt.switch_backend("svg")               # a backend chosen before, as a notebook's is
    try:
        path = plot_gates(model, example, tmp_path / "gates.png", marks=marks)
        assert matplotlib.get_backend() == "svg"
    finally:
        plt.switch_backend(previous)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()            # the figure was closed, not left to show


def test_plot_gates_skips_a_model_without_lstm_gates(tmp_path):
    task = get_task("adding", seq_len=8, test_size=4)
    model = task.build_model("gru", hidden_size=4)
    example, _ = task.example()
    assert plot_gates(model, example, tmp_path / "gates.png") is None
    assert not (tmp_path / "gates.png").exists()
