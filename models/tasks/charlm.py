"""Character-level language modelling on Python's own standard library.

The corpus is the ``.py`` source of the standard library of the running interpreter
(found with ``sysconfig.get_paths()["stdlib"]``; test suites and ``site-packages`` left
out), so it ships with every Python install and needs no download. Files are split
into training and validation sets by a hash of their relative path: deterministic, and
no file contributes to both. The vocabulary is fixed (printable ASCII, newline, tab and
one symbol for everything else), so it does not depend on the Python version.

Training is truncated backpropagation through time (Elman 1990; Williams & Peng 1990):
the training text is cut into ``B`` parallel streams, read ``seq_len`` characters at a
time; the recurrent state is carried from one chunk to the next and ``detach()``-ed, so
gradients flow back at most ``seq_len`` steps. The metric is validation bits per
character, measured on ``val_chars`` characters (16 windows spread evenly over the
validation text, the state carried through each); :func:`sample` draws text at a
temperature.
"""
from __future__ import annotations

import math
import sysconfig
import zlib
from pathlib import Path

import numpy as np

import minigrad as mg

from .base import Task, as_tensor, step_cross_entropy
from .recurrent import detach_state

CHARACTERS = "\t\n" + "".join(chr(c) for c in range(32, 127))
UNKNOWN = len(CHARACTERS)                 # every other character
VOCAB_SIZE = len(CHARACTERS) + 1
_CODE = np.full(128, UNKNOWN, dtype=np.uint8)     # ASCII code point -> symbol
for _i, _c in enumerate(CHARACTERS):
    _CODE[ord(_c)] = _i
_SKIPPED_DIRS = {"site-packages", "test", "tests", "idle_test", "__pycache__"}


def encode_text(text):
    """Text -> uint8 codes (characters outside the vocabulary become ``UNKNOWN``)."""
    raw = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    codes = np.full(raw.shape, UNKNOWN, dtype=np.uint8)
    ascii_ = raw < 128
    codes[ascii_] = _CODE[raw[ascii_]]
    return codes


def decode(codes):
    return "".join(CHARACTERS[c] if c < len(CHARACTERS) else "?" for c in codes)


def stdlib_files(root=None):
    """The standard library's ``.py`` files, sorted, as ``(relative name, path)``."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if _SKIPPED_DIRS.intersection(relative.parts[:-1]):
            continue
        files.append((relative.as_posix(), path))
    return sorted(files)


def is_validation(relative_name, fraction=0.1):
    """A file's split, from a hash of its relative path (stable across runs and
    machines): about ``fraction`` of the files go to validation."""
    return zlib.crc32(relative_name.encode()) % 1000 < fraction * 1000


def load_corpus(root=None, max_chars=None):
    """``(train codes, validation codes, file counts)`` over the standard library; each
    file's text is followed by a blank line. ``max_chars`` caps each split (the first
    files in sorted order)."""
    parts = {"train": [], "validation": []}
    sizes = {"train": 0, "validation": 0}
    counts = {"train": 0, "validation": 0}
    for relative, path in stdlib_files(root):
        split = "validation" if is_validation(relative) else "train"
        if max_chars and sizes[split] >= max_chars:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        codes = encode_text(text + "\n\n")
        parts[split].append(codes)
        sizes[split] += len(codes)
        counts[split] += 1
    train = np.concatenate(parts["train"])
    validation = np.concatenate(parts["validation"])
    if max_chars:
        train, validation = train[:max_chars], validation[:max_chars]
    return train, validation, counts


def batchify(codes, batch_size):
    """Cut ``codes`` into ``batch_size`` equal streams: ``(N, B)``, column ``b`` the
    ``b``-th stretch of the text."""
    length = len(codes) // batch_size
    return codes[:length * batch_size].reshape(batch_size, length).T.astype(np.int64)


def spread_windows(codes, total, streams):
    """``streams`` windows of ``total // streams`` characters at evenly spaced offsets of
    ``codes``, as columns ``(L, streams)``: a validation sample that visits many files
    rather than the first few."""
    length = min(total // streams, len(codes) // streams)
    offsets = np.linspace(0, len(codes) - length, streams).astype(int)
    return np.stack([codes[o:o + length] for o in offsets], axis=1).astype(np.int64)


class TextStream:
    """Consecutive chunks of ``seq_len`` characters from ``B`` parallel streams.

    ``next_batch()`` returns ``(inputs (L, B), targets (L, B), fresh)``: ``fresh`` says a
    new pass over the text starts, so the carried state must be dropped. The position
    (``state_dict()``) is all that is needed to continue exactly.
    """

    def __init__(self, codes, seq_len, batch_size):
        self.streams = batchify(codes, batch_size)
        self.seq_len = int(seq_len)
        self.batch_size = int(batch_size)
        self.position = 0
        self.epoch = 0
        if len(self.streams) < self.seq_len + 1:
            raise ValueError("char LM: the training text is too short for this batch size "
                             "and sequence length")

    def next_batch(self):
        fresh = self.position == 0
        if self.position + self.seq_len + 1 > len(self.streams):
            self.position, self.epoch, fresh = 0, self.epoch + 1, True
        start = self.position
        self.position += self.seq_len
        chunk = self.streams[start:start + self.seq_len + 1]
        return chunk[:-1], chunk[1:], fresh

    def state_dict(self):
        return {"position": self.position, "epoch": self.epoch}

    def load_state_dict(self, state):
        self.position = int(state["position"])
        self.epoch = int(state["epoch"])


class CharLMTask(Task):
    """Metric: validation bits per character. A language model has no natural "solved":
    the threshold (1.5 bits/char) only marks a model that has learnt the code's structure,
    and training spends its whole budget (no early stop)."""

    name = "charlm"
    metric_name = "validation bits/char"
    threshold = 1.5
    vocab_size = VOCAB_SIZE
    output_size = VOCAB_SIZE
    defaults = dict(seq_len=64, hidden_size=256, batch_size=32, lr=3e-3, steps=4000,
                    eval_every=250, clip=1.0, val_chars=100_000, max_chars=None,
                    early_stop=False)

    def __init__(self, seq_len=None, seed=0, val_chars=None, max_chars=None, root=None):
        super().__init__(seq_len, seed)
        self.val_chars = int(val_chars or self.defaults["val_chars"])
        self.train_codes, validation, self.file_counts = load_corpus(root, max_chars)
        self.validation_codes = validation
        self.validation_streams = spread_windows(validation, self.val_chars, streams=16)
        self.baseline = math.log2(VOCAB_SIZE)       # a uniform guess
        self.carries_state = True

    def describe(self):
        return (f"char LM on the standard library ({self.file_counts['train']} training "
                f"files, {len(self.train_codes):,} chars; {self.file_counts['validation']} "
                f"validation files), BPTT length {self.seq_len}")

    def build_model(self, cell="lstm", hidden_size=256, num_layers=1, forget_bias=1.0,
                    embedding_dim=None):
        return super().build_model(cell, hidden_size, num_layers, forget_bias,
                                   embedding_dim or 64)

    def train_stream(self, seed, batch_size):
        return TextStream(self.train_codes, self.seq_len, batch_size)

    def loss(self, model, batch, carry=None):
        inputs, targets, fresh = batch
        if fresh:
            carry = None
        logits, state = model(as_tensor(inputs), carry)
        # truncated BPTT: the next chunk starts from this state, cut from the graph
        return step_cross_entropy(logits, targets), detach_state(state)

    def evaluate(self, model, chunk=200):
        streams = self.validation_streams
        total, count, state = 0.0, 0, None
        with mg.no_grad():
            for start in range(0, len(streams) - 1, chunk):
                piece = streams[start:start + chunk + 1]
                if len(piece) < 2:
                    break
                logits, state = model(as_tensor(piece[:-1]), state)
                n = piece[1:].size
                total += float(step_cross_entropy(logits, piece[1:]).item()) * n
                count += n
        bits = total / count / math.log(2)
        return {"metric": bits, "val_bpc": bits, "solved": bool(bits < self.threshold)}

    def example(self):
        codes = self.validation_codes[:80]
        shown = decode(codes).replace("\n", "\u21b5").replace("\t", "\u2192")
        return codes[:, None].astype(np.int64), {"symbols": shown}


def sample(model, prime="def ", length=300, temperature=0.8, seed=0):
    """Draw ``length`` characters after ``prime``, at ``temperature`` (lower: safer
    choices; 1.0 samples the model's own distribution)."""
    if temperature <= 0:
        raise ValueError(f"sample: temperature must be positive, got {temperature}")
    rng = np.random.default_rng(seed)
    codes = list(encode_text(prime)) or [_CODE[ord("\n")]]
    with mg.no_grad():
        logits, state = model(as_tensor(np.asarray(codes, dtype=np.int64)[:, None]))
        out = []
        for _ in range(length):
            scores = logits.numpy()[-1, 0].astype(np.float64) / temperature
            probabilities = np.exp(scores - scores.max())
            probabilities /= probabilities.sum()
            code = int(rng.choice(len(probabilities), p=probabilities))
            out.append(code)
            logits, state = model(as_tensor(np.asarray([[code]], dtype=np.int64)), state)
    return prime + decode(out)
