"""The embedded Reber grammar (Hochreiter & Schmidhuber 1997, experiment 1; the grammar
is Reber 1967's, the embedding Cleeremans, Servan-Schreiber & McClelland 1989's).

A Reber string is a walk through a small finite automaton over ``B T S X P V E``. The
embedded version wraps one in ``B T ... T E`` or ``B P ... P E``: the second-to-last symbol
repeats the second one, so predicting it needs a memory of a symbol seen many steps ago,
across an inner string that looks the same either way.

The model reads a string one symbol at a time and predicts the next. Where the grammar
allows two continuations it cannot know which comes, so (as in the paper) a prediction
counts as right when the ``k`` most probable symbols are exactly the ``k`` symbols the
grammar allows there. The task is solved when every prediction of every string of a
held-out set is right, the long-lag one included.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg

from .base import RandomStream, Task, as_tensor, step_cross_entropy

SYMBOLS = "BTSXPVE"
INDEX = {s: i for i, s in enumerate(SYMBOLS)}
PAD = len(SYMBOLS)          # input padding (past a string's end)
IGNORE = -1                 # target padding, skipped by the loss

# Reber's automaton: state -> [(symbol, next state), ...]; state 5 ends with E.
REBER = {
    0: [("T", 1), ("P", 2)],
    1: [("S", 1), ("X", 3)],
    2: [("T", 2), ("V", 4)],
    3: [("X", 2), ("S", 5)],
    4: [("P", 3), ("V", 5)],
}


def transitions(state):
    """Legal next symbols of the embedded grammar from ``state``: ``{symbol: state}``.

    States: ``"start"`` (expects B), ``"branch"`` (T or P), ``(branch, "B")`` (the inner
    string's B), ``(branch, k)`` inside Reber's automaton, ``("tail", branch)`` (expects
    the branch symbol again), ``"end"`` (expects E), ``"done"``.
    """
    if state == "start":
        return {"B": "branch"}
    if state == "branch":
        return {"T": ("T", "B"), "P": ("P", "B")}
    if state == "end":
        return {"E": "done"}
    if state == "done":
        return {}
    if state[0] == "tail":
        return {state[1]: "end"}
    branch, inner = state
    if inner == "B":
        return {"B": (branch, 0)}
    if inner == 5:
        return {"E": ("tail", branch)}
    return {symbol: (branch, after) for symbol, after in REBER[inner]}


def generate(rng):
    """One embedded Reber string (each choice a fair coin)."""
    state, symbols = "start", []
    while state != "done":
        options = sorted(transitions(state).items())
        symbol, state = options[int(rng.integers(len(options)))] if len(options) > 1 \
            else options[0]
        symbols.append(symbol)
    return "".join(symbols)


def legal_next(string):
    """For each position ``t`` of ``string``, the set of symbols allowed at ``t + 1``.

    Raises ``ValueError`` when ``string`` is not in the grammar.
    """
    state, sets = "start", []
    for position, symbol in enumerate(string):
        options = transitions(state)
        if symbol not in options:
            raise ValueError(f"{string!r} leaves the embedded Reber grammar at position "
                             f"{position} ({symbol!r}; allowed: {sorted(options)})")
        state = options[symbol]
        sets.append(frozenset(transitions(state)))
    if state != "done":
        raise ValueError(f"{string!r} ends before the grammar does")
    return sets[:-1]


def is_valid(string):
    try:
        legal_next(string)
    except ValueError:
        return False
    return True


def encode(strings):
    """Strings -> ``(inputs (T, B) int64, targets (T, B) int64, lengths)`` where the input
    at ``t`` is symbol ``t`` and the target symbol ``t + 1``; padded with ``PAD`` /
    ``IGNORE``. ``T`` is the longest string's length minus one."""
    steps = max(len(s) for s in strings) - 1
    inputs = np.full((steps, len(strings)), PAD, dtype=np.int64)
    targets = np.full((steps, len(strings)), IGNORE, dtype=np.int64)
    for column, string in enumerate(strings):
        codes = [INDEX[s] for s in string]
        inputs[:len(codes) - 1, column] = codes[:-1]
        targets[:len(codes) - 1, column] = codes[1:]
    return inputs, targets, [len(s) - 1 for s in strings]


def reber_batch(rng, batch_size):
    strings = [generate(rng) for _ in range(batch_size)]
    return encode(strings)


class ReberTask(Task):
    """Next-symbol prediction; metric: the fraction of held-out strings with every
    prediction right (solved at 1.0)."""

    name = "reber"
    metric_name = "strings fully predicted"
    threshold = 1.0
    vocab_size = len(SYMBOLS) + 1          # with the padding symbol
    output_size = len(SYMBOLS)
    defaults = dict(seq_len=0, hidden_size=32, batch_size=32, lr=1e-2, steps=3000,
                    eval_every=100, clip=1.0, test_size=512)

    def __init__(self, seq_len=None, seed=0, test_size=None):
        super().__init__(0, seed)         # the grammar sets the lengths
        self.test_size = int(test_size or self.defaults["test_size"])
        rng = np.random.default_rng([self.seed, 2])
        self.test_strings = [generate(rng) for _ in range(self.test_size)]

    def describe(self):
        return "embedded Reber grammar"

    def train_stream(self, seed, batch_size):
        return RandomStream(reber_batch, seed, batch_size)

    def loss(self, model, batch, carry=None):
        inputs, targets, _ = batch
        logits, _ = model(as_tensor(inputs))
        return step_cross_entropy(logits, targets, ignore_index=IGNORE), None

    def evaluate(self, model, batch_size=256):
        strings_right = positions = positions_right = 0
        long_lag_right = 0
        with mg.no_grad():
            for start in range(0, self.test_size, batch_size):
                strings = self.test_strings[start:start + batch_size]
                inputs, _, lengths = encode(strings)
                logits, _ = model(as_tensor(inputs))
                ranking = np.argsort(-logits.numpy(), axis=-1)      # (T, B, 7)
                for column, string in enumerate(strings):
                    all_right = True
                    for t, legal in enumerate(legal_next(string)):
                        top = {SYMBOLS[i] for i in ranking[t, column, :len(legal)]}
                        right = top == legal
                        positions += 1
                        positions_right += right
                        all_right &= right
                        if t == lengths[column] - 2:     # predicting the second-to-last
                            long_lag_right += right
                    strings_right += all_right
        fraction = strings_right / self.test_size
        return {"metric": fraction, "strings_right": fraction,
                "symbols_right": positions_right / positions,
                "long_lag_right": long_lag_right / self.test_size,
                "solved": bool(fraction >= self.threshold)}

    def example(self):
        string = self.test_strings[0]
        inputs, _, _ = encode([string])
        return inputs, {"symbols": string[:-1]}
