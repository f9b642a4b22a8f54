"""One LSTM training step, side by side: minigrad's ``models.LSTM``, PyTorch's fused
``nn.LSTM``, a PyTorch Python loop over ``nn.LSTMCell``, the hand-written NumPy floor
(:mod:`benchmarks.numpy_lstm`) and, when JAX is installed, ``jit`` + ``lax.scan``.

A step is: forward over the sequence, mean squared error of every output against a
target, full backpropagation through time, plain SGD on the four parameters. Every
implementation starts from the same parameters and data (float32), and the first step's
losses are compared, so the table only ever times the same computation.

    python -m benchmarks.lstm_step --configs S,M,L --repeats 10
    python -m benchmarks.lstm_step --configs M --profile       # where minigrad's time goes
    python -m benchmarks.lstm_step --backend cupy --configs M,L,XL
"""
from __future__ import annotations

import argparse
import contextlib

import numpy as np

from .common import (fmt_ms, fmt_ratio, machine_header, markdown_table, median,
                     profile_top, setup_torch, time_round_robin)
from .numpy_lstm import NumpyLSTM

# name -> (B, T, I, H)
CONFIGS = {
    "tiny": (2, 4, 3, 5),          # for the smoke test
    "S": (32, 50, 32, 128),
    "M": (64, 100, 128, 256),
    "L": (128, 100, 256, 512),
    "XL": (256, 200, 512, 1024),   # GPU only by default
}
DEFAULT_REPEATS = {"tiny": 1, "S": 20, "M": 10, "L": 5, "XL": 5}
LR = 0.01
IMPLEMENTATIONS = ("floor", "minigrad", "nn.LSTM", "LSTMCell loop", "JAX")


def make_data(B, T, I, H, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    target = rng.uniform(-0.5, 0.5, (T, B, H)).astype(np.float32)
    return x, target


# --------------------------------------------------------------------------- the steps
# Each factory returns a zero-argument callable doing one training step and returning
# the loss as a float.

def floor_step(params, x, target, xp=np):
    T, B, I = x.shape
    H = target.shape[-1]
    floor = NumpyLSTM(I, H, xp=xp)
    floor.load(params)
    x, target = xp.asarray(x), xp.asarray(target)
    return lambda: floor.train_step(x, target, lr=LR, loss="all")


def minigrad_step(params, x, target, backend="numpy"):
    import minigrad as mg
    from models import LSTM
    I, H = x.shape[-1], target.shape[-1]
    with mg.use_backend(backend):
        lstm = LSTM(I, H)
        lstm.load_state_dict({name + "_l0": value for name, value in params.items()})
        xt = mg.tensor(x)
        tt = mg.tensor(target)
    return sgd_step(lstm, xt, tt)


def sgd_step(layer, x, target, mode=contextlib.nullcontext):
    """One minigrad training step of a sequence ``layer`` as a zero-argument callable:
    forward and backward inside ``mode()`` (``mg.unfused``, say), then plain SGD."""
    import minigrad as mg
    parameters = list(layer.parameters())

    def step():
        with mode():
            output, _ = layer(x)
            loss = mg.nn.functional.mse_loss(output, target)
            loss.backward()
        with mg.no_grad():
            for p in parameters:
                p.data -= LR * p.grad.data
                p.grad = None
        return loss.item()
    return step


def _torch_sgd(torch, parameters):
    with torch.no_grad():
        for p in parameters:
            p -= LR * p.grad
            p.grad = None


def torch_fused_step(torch, params, x, target, device):
    I, H = x.shape[-1], target.shape[-1]
    lstm = torch.nn.LSTM(I, H).to(device)
    with torch.no_grad():
        for name, value in params.items():
            getattr(lstm, name + "_l0").copy_(torch.from_numpy(value))
    xt = torch.from_numpy(x).to(device)
    tt = torch.from_numpy(target).to(device)
    parameters = list(lstm.parameters())

    def step():
        output, _ = lstm(xt)
        loss = torch.nn.functional.mse_loss(output, tt)
        loss.backward()
        _torch_sgd(torch, parameters)
        return loss.item()
    return step


def torch_cell_loop_step(torch, params, x, target, device):
    I, H = x.shape[-1], target.shape[-1]
    cell = torch.nn.LSTMCell(I, H).to(device)
    with torch.no_grad():
        for name, value in params.items():
            getattr(cell, name).copy_(torch.from_numpy(value))
    xt = torch.from_numpy(x).to(device)
    tt = torch.from_numpy(target).to(device)
    parameters = list(cell.parameters())

    def step():
        state = None
        outputs = []
        for x_t in xt:
            state = cell(x_t, state)
            outputs.append(state[0])
        loss = torch.nn.functional.mse_loss(torch.stack(outputs), tt)
        loss.backward()
        _torch_sgd(torch, parameters)
        return loss.item()
    return step


def jax_step(params, x, target):
    """``jit`` of forward + ``grad`` + SGD, the recurrence as ``lax.scan``."""
    import jax
    import jax.numpy as jnp

    H = target.shape[-1]

    def loss_fn(p, xs, ys):
        projected = xs @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"]   # (T, B, 4H)

        def cell(carry, a_x):
            h, c = carry
            a = a_x + h @ p["weight_hh"].T
            i = jax.nn.sigmoid(a[:, :H])
            f = jax.nn.sigmoid(a[:, H:2 * H])
            g = jnp.tanh(a[:, 2 * H:3 * H])
            o = jax.nn.sigmoid(a[:, 3 * H:])
            c = f * c + i * g
            h = o * jnp.tanh(c)
            return (h, c), h

        B = xs.shape[1]
        zeros = jnp.zeros((B, H), xs.dtype)
        _, outputs = jax.lax.scan(cell, (zeros, zeros), projected)
        return jnp.mean((outputs - ys) ** 2)

    @jax.jit
    def train(p, xs, ys):
        loss, grads = jax.value_and_grad(loss_fn)(p, xs, ys)
        return {k: p[k] - LR * grads[k] for k in p}, loss

    state = {"params": {k: jnp.asarray(v) for k, v in params.items()}}
    xs, ys = jnp.asarray(x), jnp.asarray(target)

    def step():
        state["params"], loss = train(state["params"], xs, ys)
        return float(loss)       # float() waits for the device
    return step


# --------------------------------------------------------------------------- running

def build_steps(config, backend="numpy"):
    """name -> step callable for one config; implementations that cannot run here are
    left out (with the reason in the second return value)."""
    B, T, I, H = CONFIGS[config]
    x, target = make_data(B, T, I, H)
    params = NumpyLSTM(I, H, seed=1).state()
    params = {k: np.array(v) for k, v in params.items()}
    torch = setup_torch()
    steps, skipped, sync = {}, {}, None
    if backend == "cupy":
        try:
            import cupy
        except ImportError:
            raise SystemExit("--backend cupy needs CuPy installed") from None
        device = "cuda"

        def sync():
            cupy.cuda.Device().synchronize()
            if torch is not None:
                torch.cuda.synchronize()
        steps["floor"] = floor_step(params, x, target, xp=cupy)
    else:
        device = "cpu"
        steps["floor"] = floor_step(params, x, target)
    try:
        steps["minigrad"] = minigrad_step(params, x, target, backend)
    except ImportError as error:
        skipped["minigrad"] = f"models.LSTM unavailable ({error})"
    if torch is not None:
        if device == "cuda":
            torch.backends.cudnn.enabled = True
        steps["nn.LSTM"] = torch_fused_step(torch, params, x, target, device)
        steps["LSTMCell loop"] = torch_cell_loop_step(torch, params, x, target, device)
    else:
        skipped["nn.LSTM"] = skipped["LSTMCell loop"] = "torch not installed"
    try:
        import jax  # noqa: F401
        steps["JAX"] = jax_step(params, x, target)
    except ImportError:
        skipped["JAX"] = "jax not installed"
    return steps, skipped, sync


def run(configs, repeats=None, backend="numpy", leave_out=()):
    """Time every implementation on every config (but those named in ``leave_out``);
    returns one row dict per config."""
    rows = []
    for config in configs:
        steps, skipped, sync = build_steps(config, backend)
        for name in leave_out:
            if steps.pop(name, None) is not None:
                skipped[name] = "left out (--skip)"
        # first step of each (also the warm-up, and JAX's compilation): same loss?
        first_loss = {name: step() for name, step in steps.items()}
        reference = first_loss["floor"]
        for name, value in first_loss.items():
            if not np.isclose(value, reference, rtol=1e-3, atol=1e-6):
                raise AssertionError(f"{config}: {name}'s first loss {value} differs from "
                                     f"the floor's {reference}: not the same computation")
        n = repeats or DEFAULT_REPEATS.get(config, 5)
        times = time_round_robin(steps, n, warmup=0, sync=sync)
        rows.append({"config": config, "shape": CONFIGS[config], "repeats": n,
                     "median": {name: median(ts) for name, ts in times.items()},
                     "best": {name: min(ts) for name, ts in times.items()},
                     "skipped": skipped, "backend": backend})
    return rows


def format_table(rows):
    headers = ["config (B, T, I, H)"] + [f"{name} ms" for name in IMPLEMENTATIONS] + [
        "minigrad / floor", "minigrad / nn.LSTM", "nn.LSTM / floor",
        "minigrad / floor, best of", "minigrad / nn.LSTM, best of", "repeats"]
    body = []
    for row in rows:
        med = row["median"]
        cells = [f"{row['config']} {row['shape']}"]
        cells += [fmt_ms(med[name]) if name in med else "-" for name in IMPLEMENTATIONS]

        def ratio(a, b, stat=med):
            return fmt_ratio(stat[a] / stat[b]) if a in stat and b in stat else "-"
        cells += [ratio("minigrad", "floor"), ratio("minigrad", "nn.LSTM"),
                  ratio("nn.LSTM", "floor"), ratio("minigrad", "floor", row["best"]),
                  ratio("minigrad", "nn.LSTM", row["best"]), str(row["repeats"])]
        body.append(cells)
    table = markdown_table(headers, body)
    notes = sorted({f"{name}: {why}" for row in rows for name, why in row["skipped"].items()})
    if notes:
        table += "\n\nSkipped: " + "; ".join(notes)
    return table


def profile(config="M", steps=3, top=20, backend="numpy"):
    """cProfile of minigrad's training step; returns the top functions by own time."""
    B, T, I, H = CONFIGS[config]
    x, target = make_data(B, T, I, H)
    params = {k: np.array(v) for k, v in NumpyLSTM(I, H, seed=1).state().items()}
    step = minigrad_step(params, x, target, backend)
    step()                                   # warm-up outside the profile
    top_functions = profile_top(step, steps, top)
    return f"cProfile of {steps} minigrad steps on {config} {CONFIGS[config]}:\n" + top_functions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=None,
                        help="comma-separated, from " + ", ".join(CONFIGS)
                        + " (default S,M,L on numpy, S,M,L,XL on cupy)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed steps per implementation (default per config)")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--skip", default="",
                        help="comma-separated implementations to leave out, from "
                        + ", ".join(i for i in IMPLEMENTATIONS if i != "floor"))
    parser.add_argument("--profile", action="store_true",
                        help="cProfile minigrad's step on the first config instead of timing")
    parser.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    default = "S,M,L,XL" if args.backend == "cupy" else "S,M,L"
    configs = (args.configs or default).split(",")
    for config in configs:
        if config not in CONFIGS:
            parser.error(f"unknown config {config!r}; choose from {', '.join(CONFIGS)}")
    if args.profile:
        print(profile(configs[0], backend=args.backend))
        return None
    if not args.no_header:
        print(machine_header())
        print()
    leave_out = [name for name in args.skip.split(",") if name]
    for name in leave_out:
        if name not in IMPLEMENTATIONS or name == "floor":
            parser.error(f"--skip: unknown implementation {name!r} (the floor is the "
                         f"reference and always runs)")
    rows = run(configs, args.repeats, args.backend, leave_out)
    print(f"LSTM training step, median ms ({args.backend} backend; ratios of medians, and "
          f"of the fastest repetitions, from one interleaved run)\n")
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
