"""Polyphonic music: Bach's four-part chorales as piano rolls, modelled frame by frame.

The data is the set of Bach chorales that ships with music21's corpus (the optional
``study`` extra installs music21), turned into piano rolls the way the JSB Chorales set
of Boulanger-Lewandowski, Bengio & Vincent (2012) is made:

- the four voices (the parts named Soprano, Alto, Tenor and Bass; a piece without
  exactly those four is left out, and instrumental parts are dropped);
- one frame per quarter note: frame ``k`` holds every pitch sounding at offset ``k``
  (in quarter notes from the start), so notes shorter than a quarter that start
  between frames are not seen, as in the quantised original;
- 88 keys, MIDI pitches 21 (A0) to 108 (C8); pieces are not transposed; repeats are
  not expanded.

The split is fixed by a hash of each piece's corpus name (``bwv1.6``, ...):
``crc32(name) % 5`` is 0 for test, 1 for validation, else training (60/20/20, the
proportions of JSB's 229/76/77). :func:`load_chorales` parses the corpus once (about a
minute) and caches the rolls in the user's cache folder (``$MINIGRAD_CACHE``, else
``$XDG_CACHE_HOME/minigrad``, else ``~/.cache/minigrad``), never in the repository.

The model sees frame ``t`` and outputs 88 logits for frame ``t + 1``; the loss and the
metric are the negative log-likelihood per frame (nats): the sum over the 88 keys of
each key's Bernoulli NLL under a sigmoid output, averaged over the predicted frames
(Boulanger-Lewandowski et al. 2012; Greff et al. 2015 report the same).
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import nn

from .base import Task, as_tensor

KEYS = 88
LOWEST_PITCH = 21                     # MIDI A0, the lowest key of a piano
VOICES = ("soprano", "alto", "tenor", "bass")
SPLITS = ("train", "valid", "test")
CACHE_FORMAT = 1                      # raise when the rolls are made differently


def split_of(name):
    """The split of the piece called ``name`` (its corpus file's stem): ``"test"`` when
    ``crc32(name) % 5 == 0``, ``"valid"`` when it is 1, else ``"train"``."""
    bucket = zlib.crc32(name.encode()) % 5
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def cache_dir():
    """Where parsed data is kept: ``$MINIGRAD_CACHE``, else ``$XDG_CACHE_HOME/minigrad``,
    else ``~/.cache/minigrad``."""
    if os.environ.get("MINIGRAD_CACHE"):
        return Path(os.environ["MINIGRAD_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "minigrad"


def piano_roll(score):
    """A music21 score's four voices as a ``(frames, 88)`` float32 roll of 0 and 1, one
    frame per quarter note; None when the score lacks one of the four voices."""
    voices = {}
    for part in score.parts:
        name = (part.partName or "").strip().lower()
        if name in VOICES:
            voices.setdefault(name, []).append(part)
    if sorted(voices) != sorted(VOICES) or any(len(p) != 1 for p in voices.values()):
        return None
    frames = int(np.ceil(float(score.highestTime)))
    roll = np.zeros((frames, KEYS), dtype=np.float32)
    for (part,) in voices.values():
        for note in part.flatten().notes:
            start = float(note.offset)
            end = start + float(note.duration.quarterLength)
            first, last = int(np.ceil(start)), int(np.ceil(end))   # frames start <= k < end
            for pitch in note.pitches:
                key = pitch.midi - LOWEST_PITCH
                if 0 <= key < KEYS and last > first:
                    roll[first:min(last, frames), key] = 1.0
    return roll


def parse_corpus(limit=None):
    """``{split: [(name, roll), ...]}`` from music21's Bach corpus (sorted by name;
    ``limit``: only the first that many pieces, for quick checks)."""
    try:
        from music21 import corpus
    except ImportError:
        raise ImportError("the chorales need music21: pip install -e '.[study]'") from None
    paths = sorted((p for p in corpus.getComposer("bach")
                    if Path(p).suffix in (".mxl", ".xml", ".musicxml")), key=lambda p: Path(p).stem)
    pieces = {split: [] for split in SPLITS}
    for path in paths[:limit]:
        roll = piano_roll(corpus.parse(path))
        if roll is not None and len(roll) >= 2:
            name = Path(path).stem
            pieces[split_of(name)].append((name, roll))
    return pieces


def load_chorales(limit=None):
    """The piano rolls by split, parsed once and then read from the cache (see the
    module's docstring). Returns ``{split: [(name, roll (frames, 88)), ...]}``."""
    subset = "" if limit is None else f"-first{limit}"
    path = cache_dir() / f"jsb-chorales-v{CACHE_FORMAT}{subset}.npz"
    if path.exists():
        try:
            with np.load(path) as saved:
                return _unpack(saved)
        except (OSError, ValueError, KeyError):
            pass                                    # unreadable: parse again
    pieces = parse_corpus(limit)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    names = [name for split in SPLITS for name, _ in pieces[split]]
    rolls = [roll for split in SPLITS for _, roll in pieces[split]]
    np.savez_compressed(temporary, names=np.array(names),
                        splits=np.array([s for s in SPLITS for _ in pieces[s]]),
                        lengths=np.array([len(r) for r in rolls], dtype=np.int64),
                        keys=np.flatnonzero(np.concatenate(rolls).ravel()))
    os.replace(temporary, path)         # atomic: concurrent workers see all or nothing
    return pieces


def _unpack(saved):
    lengths = saved["lengths"]
    flat = np.zeros(int(lengths.sum()) * KEYS, dtype=np.float32)
    flat[saved["keys"]] = 1.0
    rolls = np.split(flat.reshape(-1, KEYS), np.cumsum(lengths)[:-1])
    pieces = {split: [] for split in SPLITS}
    for name, split, roll in zip(saved["names"], saved["splits"], rolls):
        pieces[str(split)].append((str(name), roll))
    return pieces


def pad(rolls):
    """Rolls of different lengths as ``(inputs (T, B, 88), targets (T, B, 88), mask (T,
    B))``: the input at ``t`` is frame ``t``, the target frame ``t + 1``; ``mask`` is 1
    where a target exists."""
    steps = max(len(r) for r in rolls) - 1
    inputs = np.zeros((steps, len(rolls), KEYS), dtype=np.float32)
    targets = np.zeros_like(inputs)
    mask = np.zeros((steps, len(rolls)), dtype=np.float32)
    for column, roll in enumerate(rolls):
        inputs[:len(roll) - 1, column] = roll[:-1]
        targets[:len(roll) - 1, column] = roll[1:]
        mask[:len(roll) - 1, column] = 1.0
    return inputs, targets, mask


def frame_nll(logits, targets, mask):
    """Summed over keys, averaged over the frames where ``mask`` is 1: the negative
    log-likelihood per frame of sigmoid outputs ``logits (T, B, 88)``."""
    # -log p = softplus(l) - y l = max(l, 0) - y l + log(1 + exp(-|l|)), stable
    per_key = mg.relu(logits) - logits * targets + mg.log(1 + mg.exp(-mg.abs(logits)))
    per_frame = per_key.sum(axis=-1) * mask
    return per_frame.sum() / float(mask.sum())


class ChoralesTask(Task):
    """Next-frame prediction on the chorales; metric: NLL per frame (nats, lower is
    better). Batches are random pieces of the training split, padded, with the padding
    masked out of the loss."""

    name = "chorales"
    metric_name = "NLL per frame"
    threshold = 0.0
    input_size = KEYS
    output_size = KEYS
    defaults = dict(seq_len=0, hidden_size=64, batch_size=16, lr=1e-2, steps=500,
                    eval_every=100, clip=1.0)

    def __init__(self, seq_len=None, seed=0, limit=None):
        super().__init__(0, seed)           # each piece has its own length
        self.pieces = load_chorales(limit)
        self.counts = {split: len(self.pieces[split]) for split in SPLITS}
        # the uniform guess p = 1/2 per key: 88 log 2 nats per frame
        self.baseline = KEYS * float(np.log(2.0))

    def describe(self):
        """One line: the pieces per split."""
        return (f"JSB-style chorales ({self.counts['train']} training, "
                f"{self.counts['valid']} validation, {self.counts['test']} test pieces)")

    def train_stream(self, seed, batch_size):
        """Random training pieces, ``batch_size`` at a time (:class:`PieceStream`)."""
        return PieceStream([roll for _, roll in self.pieces["train"]], seed, batch_size)

    def loss(self, model, batch, carry=None):
        """The NLL per frame of one padded batch ``(inputs, targets, mask)``; ``(loss,
        None)`` (pieces are independent: no state is carried)."""
        inputs, targets, mask = batch
        logits, _ = model(as_tensor(inputs))
        return frame_nll(logits, as_tensor(targets), as_tensor(mask)), None

    def evaluate(self, model, split="valid", batch_size=32):
        """The NLL per frame over every piece of ``split``."""
        rolls = [roll for _, roll in self.pieces[split]]
        total = frames = 0.0
        with mg.no_grad():
            for start in range(0, len(rolls), batch_size):
                inputs, targets, mask = pad(rolls[start:start + batch_size])
                logits, _ = model(as_tensor(inputs))
                count = float(mask.sum())
                total += float(frame_nll(logits, as_tensor(targets),
                                         as_tensor(mask)).item()) * count
                frames += count
        nll = total / frames
        return {"metric": nll, "nll": nll, "solved": False}

    def example(self):
        """The first test piece, ``(frames, 1, 88)``, and no marks."""
        roll = self.pieces["test"][0][1]
        return roll[:, None, :], {}


class PieceStream:
    """Batches of ``batch_size`` training pieces drawn without replacement, epoch after
    epoch (a new order each epoch from the seeded generator)."""

    def __init__(self, rolls, seed, batch_size):
        self.rolls = rolls
        self.batch_size = min(int(batch_size), len(rolls))
        self.rng = np.random.default_rng(seed)
        self.order, self.position = self.rng.permutation(len(rolls)), 0

    def next_batch(self):
        """The next ``(inputs (T, B, 88), targets (T, B, 88), mask (T, B))`` (see
        :func:`pad`)."""
        if self.position + self.batch_size > len(self.order):
            self.order, self.position = self.rng.permutation(len(self.rolls)), 0
        chosen = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return pad([self.rolls[i] for i in chosen])


__all__ = ["ChoralesTask", "load_chorales", "parse_corpus", "piano_roll", "split_of",
           "frame_nll", "pad", "cache_dir", "KEYS", "SPLITS"]
