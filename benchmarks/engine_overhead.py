"""The engine's fixed cost per op, side by side with PyTorch eager.

Two workloads where the arithmetic is negligible and the bookkeeping is everything:

* a chain of 1,000 elementwise ops (mul, add, tanh, sigmoid, exp in turn) on
  ``(16,)``-shaped tensors, then a sum; timed forward only (recording the tape) and
  forward + backward;
* a training step of a 2-layer MLP (B=32, 64 -> 128 -> 10, ReLU, mean squared error,
  SGD), written with the same ops on both sides (``x @ W.T + b``).

The target is minigrad's per-op overhead within 1.5x PyTorch's. Plain NumPy calls on
the same arrays (no autograd) are shown as what Python + NumPy cost anyway.

    python -m benchmarks.engine_overhead [--repeats 50] [--profile]
"""
from __future__ import annotations

import argparse

import numpy as np

from .common import (machine_header, markdown_table, median, profile_top, setup_torch,
                     time_round_robin)

CHAIN_LENGTH = 1000
TARGET_RATIO = 1.5


# --------------------------------------------------------------------------- the chain
# Values stay in a tame range: w in [0.5, 1], b small, and tanh, sigmoid and exp of
# bounded inputs keep everything between about -1 and e.

def _chain(x, w, b, tanh, sigmoid, exp, length):
    y = x
    for k in range(length):
        kind = k % 5
        if kind == 0:
            y = y * w
        elif kind == 1:
            y = y + b
        elif kind == 2:
            y = tanh(y)
        elif kind == 3:
            y = sigmoid(y)
        else:
            y = exp(y)
    return y.sum()


def chain_inputs(size=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(size).astype(np.float32),
            rng.uniform(0.5, 1.0, size).astype(np.float32),
            (0.1 * rng.standard_normal(size)).astype(np.float32))


def _framework_chain(make_tensor, tanh, sigmoid, exp, length):
    x, w, b = (make_tensor(a) for a in chain_inputs())

    def forward():
        return _chain(x, w, b, tanh, sigmoid, exp, length)

    def forward_backward():
        forward().backward()
        for t in (x, w, b):
            t.grad = None
    return forward, forward_backward


def minigrad_chain(length=CHAIN_LENGTH):
    import minigrad as mg
    return _framework_chain(lambda a: mg.tensor(a, requires_grad=True),
                            mg.tanh, mg.sigmoid, mg.exp, length)


def torch_chain(torch, length=CHAIN_LENGTH):
    return _framework_chain(lambda a: torch.tensor(a, requires_grad=True),
                            torch.tanh, torch.sigmoid, torch.exp, length)


def numpy_chain(length=CHAIN_LENGTH):
    x, w, b = chain_inputs()

    def sigmoid(a):
        return 0.5 * np.tanh(0.5 * a) + 0.5
    return lambda: _chain(x, w, b, np.tanh, sigmoid, np.exp, length)


# --------------------------------------------------------------------------- the MLP

def mlp_inputs(batch=32, sizes=(64, 128, 10), seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    return params, x, y


def _mlp_loss(params, x, y, relu):
    w1, b1, w2, b2 = params
    hidden = relu(x @ w1.T + b1)
    diff = hidden @ w2.T + b2 - y
    return (diff * diff).mean()


def minigrad_mlp(lr=0.01):
    import minigrad as mg
    arrays, x, y = mlp_inputs()
    params = [mg.tensor(a, requires_grad=True) for a in arrays]
    x, y = mg.tensor(x), mg.tensor(y)

    def step():
        loss = _mlp_loss(params, x, y, mg.relu)
        loss.backward()
        with mg.no_grad():
            for p in params:
                p.data -= lr * p.grad.data
                p.grad = None
        return loss
    return step, lambda: _mlp_loss(params, x, y, mg.relu)


def torch_mlp(torch, lr=0.01):
    arrays, x, y = mlp_inputs()
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = _mlp_loss(params, x, y, torch.relu)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        return loss
    return step


def count_recorded_ops(output):
    """Nodes on minigrad's tape behind ``output`` (walks ``tensor.node.inputs``)."""
    seen, work = set(), [output.node]
    while work:
        node = work.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        work.extend(getattr(t, "node", None) for t in node.inputs)
    return len(seen)


# --------------------------------------------------------------------------- running

def run(repeats=30, length=CHAIN_LENGTH):
    """Returns a dict of medians (seconds) and op counts."""
    torch = setup_torch()
    mg_fwd, mg_step = minigrad_chain(length)
    mlp_step, mlp_forward = minigrad_mlp()
    steps = {"mg chain fwd": mg_fwd, "mg chain fwd+bwd": mg_step,
             "np chain": numpy_chain(length), "mg mlp": mlp_step}
    if torch is not None:
        t_fwd, t_step = torch_chain(torch, length)
        steps.update({"torch chain fwd": t_fwd, "torch chain fwd+bwd": t_step,
                      "torch mlp": torch_mlp(torch)})
    times = time_round_robin(steps, repeats, warmup=2)
    return {"median": {name: median(ts) for name, ts in times.items()},
            "best": {name: min(ts) for name, ts in times.items()},
            "chain_ops": length + 1, "mlp_ops": count_recorded_ops(mlp_forward()),
            "repeats": repeats, "torch": torch is not None}


def format_table(result):
    med, best = result["median"], result["best"]
    n, m = result["chain_ops"], result["mlp_ops"]

    def us(name, count=1):
        return f"{med[name] / count * 1e6:.2f}" if name in med else "-"

    def ratio(a, b):
        if a not in med or b not in med:
            return "-", "-"
        return f"{med[a] / med[b]:.2f}x", f"{best[a] / best[b]:.2f}x"
    rows = [
        [f"chain of {n} ops on (16,), forward (recording), per op", us("mg chain fwd", n),
         us("torch chain fwd", n), us("np chain", n), *ratio("mg chain fwd", "torch chain fwd")],
        [f"chain of {n} ops on (16,), forward + backward, per op", us("mg chain fwd+bwd", n),
         us("torch chain fwd+bwd", n), "-", *ratio("mg chain fwd+bwd", "torch chain fwd+bwd")],
        [f"MLP 64-128-10, B=32, training step ({m} recorded ops), per step", us("mg mlp"),
         us("torch mlp"), "-", *ratio("mg mlp", "torch mlp")],
        ["MLP 64-128-10, B=32, training step, per recorded op", us("mg mlp", m),
         us("torch mlp", m), "-", *ratio("mg mlp", "torch mlp")],
    ]
    table = markdown_table(["workload", "minigrad µs", "PyTorch eager µs",
                            "NumPy, no autograd µs", "minigrad / PyTorch",
                            "minigrad / PyTorch, best of"], rows)
    verdict = []
    for a, b, what in (("mg chain fwd+bwd", "torch chain fwd+bwd", "chain fwd+bwd"),
                       ("mg mlp", "torch mlp", "MLP step")):
        if a in med and b in med:
            r, rb = med[a] / med[b], best[a] / best[b]
            verdict.append(f"{what} {r:.2f}x of medians, {rb:.2f}x best-of "
                           f"({'meets' if r <= TARGET_RATIO else 'misses'} the {TARGET_RATIO}x "
                           f"target)")
    return table + (f"\n\n{'; '.join(verdict)}; medians of {result['repeats']} interleaved "
                    f"repetitions." if verdict else "")


def profile(length=CHAIN_LENGTH, rounds=20, top=15):
    """cProfile of minigrad's chain, forward + backward; the top functions by own time."""
    _, step = minigrad_chain(length)
    step()
    top_functions = profile_top(step, rounds, top)
    return f"cProfile of {rounds} x minigrad chain of {length} ops, fwd+bwd:\n" + top_functions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--length", type=int, default=CHAIN_LENGTH, help="ops in the chain")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile minigrad's chain (top 15 by own time) instead of timing")
    parser.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(args.length))
        return None
    if not args.no_header:
        print(machine_header())
        print()
    result = run(args.repeats, args.length)
    print("Engine overhead: small ops, where bookkeeping is everything\n")
    print(format_table(result))
    return result


if __name__ == "__main__":
    main()
