"""Packed sequences: a batch of sequences of different lengths without the padding.

PyTorch's ``torch.nn.utils.rnn``, with its semantics::

    from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    packed = pack_padded_sequence(padded, lengths, enforce_sorted=False)
    output, h_n = gru(packed)                 # output is a PackedSequence too
    padded_output, lengths = pad_packed_sequence(output)

The layout. :class:`PackedSequence` ``data`` is ``(sum of lengths, *)``: the rows of
step 0 of every sequence, then step 1 of those still running, and so on, the sequences
sorted longest first. ``batch_sizes[t]`` counts the sequences running at step ``t``.
``sorted_indices[i]`` is the original batch position of the ``i``-th longest sequence
(``unsorted_indices`` the inverse permutation); both are None when the batch came
sorted (``enforce_sorted=True``).

How. Every conversion is ONE indexing op with an integer array worked out on the host
from the lengths (one extra padding row where padding goes), so its gradient is the
engine's scatter-add: packing and padding are differentiable in both directions.

Nothing here knows about recurrent layers; ``models`` reads these structures.
"""
from __future__ import annotations

import collections
import numbers

from ... import backend as _backend
from ...tensor import Tensor
from ...factories import full
from ...ops import astype, concat

numpy = _backend.get("numpy").xp     # host arithmetic on lengths and orders

__all__ = ["PackedSequence", "SequenceError", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "pack_sequence", "unpad_sequence", "unpack_sequence"]


class SequenceError(ValueError, RuntimeError):
    """Sequences, lengths or states whose shapes or values do not fit together. A
    ``ValueError``, and a ``RuntimeError`` too (what PyTorch raises in these cases)."""


class PackedSequence(collections.namedtuple(
        "PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of sequences packed without padding (see the module's docstring).

    Made by :func:`pack_padded_sequence` and :func:`pack_sequence` rather than by hand;
    a namedtuple, as PyTorch's: ``PackedSequence(data, batch_sizes, sorted_indices=None,
    unsorted_indices=None)`` takes its fields, checked.

    Attributes
    ----------
    data : Tensor
        ``(sum of lengths, *)``, time-major: step 0 of every sequence (longest first),
        then step 1, ...
    batch_sizes : Tensor of int64
        ``(T,)``, on the host (NumPy) backend: how many sequences are running at each
        step; non-increasing, summing to ``data.shape[0]``.
    sorted_indices : Tensor of int64, or None
        ``(B,)`` on ``data``'s backend: ``sorted_indices[i]`` is the original batch
        position of the ``i``-th sequence in ``data``'s order; None when the batch was
        given sorted.
    unsorted_indices : Tensor of int64, or None
        ``(B,)``, the inverse permutation (computed from ``sorted_indices`` when not
        given).
    """
    __slots__ = ()

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        if not isinstance(data, Tensor):
            raise TypeError(f"PackedSequence: data must be a Tensor, got "
                            f"{type(data).__name__}")
        sizes = _host_ints(batch_sizes, "PackedSequence: batch_sizes")
        if sizes.ndim != 1 or sizes.size == 0 or sizes.min() < 1 \
                or numpy.any(numpy.diff(sizes) > 0) or sizes.sum() != data.shape[0]:
            raise SequenceError(f"PackedSequence: batch_sizes must be a non-increasing 1-D "
                                f"sequence of positive ints summing to data's first axis "
                                f"({data.shape[0]}), got {sizes.tolist()}")
        batch_sizes = Tensor(sizes.astype(numpy.int64))
        if sorted_indices is not None:
            sorted_indices = _index_tensor(sorted_indices, data, "sorted_indices")
            if unsorted_indices is None:
                order = _host_ints(sorted_indices, "sorted_indices")
                unsorted_indices = _index_tensor(numpy.argsort(order, kind="stable"), data,
                                                 "unsorted_indices")
        if unsorted_indices is not None:
            unsorted_indices = _index_tensor(unsorted_indices, data, "unsorted_indices")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, target):
        """The same packed batch on another backend, or with ``data`` cast.

        Parameters
        ----------
        target : str or dtype
            A backend name (``"numpy"``, ``"cupy"``: data and indices move) or a dtype for
            ``data``.

        Returns
        -------
        PackedSequence
        """
        if isinstance(target, str) and _backend._ALIASES.get(target, target) \
                in _backend._LOADERS:
            move = (lambda t: None if t is None else t.to(target))
            return type(self)(self.data.to(target), self.batch_sizes,
                              move(self.sorted_indices), move(self.unsorted_indices))
        return self._replace(data=astype(self.data, target))

    def cpu(self):
        """The same packed batch on the NumPy backend.

        Returns
        -------
        PackedSequence
        """
        return self.to("numpy")

    def double(self):
        """The same packed batch with ``data`` in float64.

        Returns
        -------
        PackedSequence
        """
        return self.to("float64")

    def float(self):
        """The same packed batch with ``data`` in float32.

        Returns
        -------
        PackedSequence
        """
        return self.to("float32")

    @property
    def is_cuda(self):
        """Whether ``data`` is on the GPU (the CuPy backend)."""
        return self.data.backend == "cupy"


# --------------------------------------------------------------------------- helpers

def _host_ints(values, what):
    """``values`` (a list, an array or a Tensor) as a host int64 array; floats that are
    whole numbers are accepted, anything else refused."""
    if isinstance(values, Tensor):
        values = values.numpy()          # an explicit copy off a device, if any
    array = numpy.asarray(values)
    if array.dtype.kind == "f" and numpy.all(array == numpy.round(array)):
        array = array.astype(numpy.int64)
    if array.dtype.kind not in "iu":
        error = SequenceError if array.dtype.kind == "f" else TypeError
        raise error(f"{what} must be integers, got {array.dtype} {values!r}")
    return array.astype(numpy.int64)


def _index_tensor(indices, like, what):
    """An int64 tensor on ``like``'s backend."""
    if isinstance(indices, Tensor):
        if indices.backend != like.backend:
            raise _backend.BackendError(f"PackedSequence: {what} is on backend "
                                        f"{indices.backend!r} but data on {like.backend!r}")
        return indices
    array = _host_ints(indices, f"PackedSequence: {what}")
    return Tensor(_backend.convert(array, _backend.of(like.data)))


def _on(like, host_array):
    """A host index array moved to ``like``'s backend, for indexing ``like``."""
    return _backend.convert(host_array, _backend.of(like.data))


def check_lengths(lengths, batch, steps, owner, minimum=1):
    """``lengths`` as a host int64 array: one per sequence of the batch, each in
    ``[minimum, steps]``; ``owner`` names the caller in the message."""
    lengths = _host_ints(lengths, f"{owner}: lengths")
    if lengths.ndim != 1 or lengths.shape[0] != batch:
        raise SequenceError(f"{owner}: lengths must hold one length per sequence (batch "
                            f"size {batch}), got shape {lengths.shape}")
    if lengths.min() < minimum or lengths.max() > steps:
        raise SequenceError(f"{owner}: lengths must lie in [{minimum}, {steps}] (the "
                            f"input's time steps), got min {lengths.min()} and max "
                            f"{lengths.max()}")
    return lengths


def sorted_lengths(batch_sizes):
    """The lengths of a packed batch's sequences, longest first, from its batch sizes."""
    sizes = _host_ints(batch_sizes, "batch_sizes")
    return (sizes[None, :] > numpy.arange(sizes[0])[:, None]).sum(axis=1)


def _packed_rows(sizes):
    """``(t, i)`` for every row of a packed ``data`` in order: step and sorted position."""
    steps = numpy.repeat(numpy.arange(len(sizes)), sizes)
    starts = numpy.repeat(numpy.cumsum(sizes) - sizes, sizes)
    return steps, numpy.arange(int(sizes.sum())) - starts


# --------------------------------------------------------------------------- the API

def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch.

    Parameters
    ----------
    input : Tensor
        ``(T, B, *)``, or ``(B, T, *)`` with ``batch_first``; steps past a sequence's
        length are padding and are left out.
    lengths : sequence of int, array or Tensor, ``(B,)``
        Each sequence's length, in ``[1, T]``.
    batch_first : bool
    enforce_sorted : bool
        True: ``lengths`` must be non-increasing (the result then has no
        ``sorted_indices``). False: any order; the batch is sorted here, longest first
        (ties keep their order), and the permutation kept.

    Returns
    -------
    PackedSequence
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: input must be a Tensor, got "
                        f"{type(input).__name__}")
    if input.ndim < 2:
        raise SequenceError(f"pack_padded_sequence: input must have a time and a batch "
                            f"axis, got shape {input.shape}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first \
        else (input.shape[0], input.shape[1])
    lengths = check_lengths(lengths, batch, steps, "pack_padded_sequence")
    if enforce_sorted:
        if numpy.any(numpy.diff(lengths) > 0):
            raise SequenceError(f"pack_padded_sequence: with enforce_sorted=True lengths "
                                f"must be non-increasing, got {lengths.tolist()}; pass "
                                f"enforce_sorted=False to pack them in any order")
        order = None
    else:
        order = numpy.argsort(-lengths, kind="stable")
    ordered = lengths if order is None else lengths[order]
    sizes = (ordered[None, :] > numpy.arange(ordered[0])[:, None]).sum(axis=1)
    t, i = _packed_rows(sizes)
    column = i if order is None else order[i]
    flat = column * steps + t if batch_first else t * batch + column
    data = input.reshape((steps * batch,) + input.shape[2:])[_on(input, flat)]
    return PackedSequence(data, sizes, order)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: the padded batch, in the original order.

    Parameters
    ----------
    sequence : PackedSequence
    batch_first : bool
        Return ``(B, T, *)`` instead of ``(T, B, *)``.
    padding_value : float
        What fills the steps past each sequence's length.
    total_length : int, optional
        Pad to this many steps (at least the longest length) instead of the longest.

    Returns
    -------
    padded : Tensor
        ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``).
    lengths : Tensor of int64, ``(B,)``, on the host backend
        Each sequence's length, in the original batch order.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: sequence must be a PackedSequence, got "
                        f"{type(sequence).__name__}")
    padded, lengths = _pad(sequence, batch_first, padding_value, total_length,
                           original_order=True)
    return padded, Tensor(lengths)


def _pad(sequence, batch_first, padding_value, total_length, original_order):
    """The padded batch and its lengths (host array), in the original order or in the
    packed (sorted) order."""
    data, sizes = sequence.data, sequence.batch_sizes.numpy()
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, numbers.Integral):
            raise TypeError(f"pad_packed_sequence: total_length must be an int, got "
                            f"{type(total_length).__name__}")
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter "
                             f"than the longest sequence ({steps} steps)")
        steps = int(total_length)
    # the padding row sits after data's rows: index data.shape[0]
    index = numpy.full((steps, batch), data.shape[0], dtype=numpy.int64)
    t, i = _packed_rows(sizes)
    index[t, i] = numpy.arange(data.shape[0])
    lengths = sorted_lengths(sizes)
    if original_order and sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices.numpy()
        index, lengths = index[:, unsorted], lengths[unsorted]
    if batch_first:
        index = index.T
    padding = full((1,) + data.shape[1:], padding_value, dtype=data.dtype,
                   backend=data.backend)
    return concat([data, padding], axis=0)[_on(data, index)], lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of different lengths into one padded batch.

    Parameters
    ----------
    sequences : list of Tensor
        Each ``(L_i, *)`` (``L_i`` may be 0), the trailing axes the same for all.
    batch_first : bool
        Return ``(B, T, *)`` instead of ``(T, B, *)``, ``T`` the longest ``L_i``.
    padding_value : float
    padding_side : {"right", "left"}
        Where the padding goes: after each sequence (PyTorch's default) or before.

    Returns
    -------
    Tensor
    """
    sequences = _sequence_list(sequences, "pad_sequence")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    lengths = numpy.array([s.shape[0] for s in sequences], dtype=numpy.int64)
    steps, total = int(lengths.max()), int(lengths.sum())
    index = numpy.full((steps, len(sequences)), total, dtype=numpy.int64)
    starts = numpy.cumsum(lengths) - lengths
    for b, (start, length) in enumerate(zip(starts, lengths)):
        rows = numpy.arange(start, start + length)
        if padding_side == "right":
            index[:length, b] = rows
        else:
            index[steps - length:, b] = rows
    first = sequences[0]
    padding = full((1,) + first.shape[1:], padding_value, dtype=first.dtype,
                   backend=first.backend)
    joined = concat(list(sequences) + [padding], axis=0)
    return joined[_on(first, index.T if batch_first else index)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences: :func:`pad_sequence`, then
    :func:`pack_padded_sequence` with their lengths.

    Parameters
    ----------
    sequences : sequence of Tensor
        Each ``(L_i, *)``, with the same trailing shape.
    enforce_sorted : bool
        Require the sequences to be given longest first (else they are sorted, and
        the order is kept in ``sorted_indices``).

    Returns
    -------
    PackedSequence
    """
    sequences = _sequence_list(sequences, "pack_sequence")
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Undo :func:`pad_sequence`: the sequences, each cut to its length.

    Parameters
    ----------
    padded_sequences : Tensor
        ``(T, B, *)``, or ``(B, T, *)`` with ``batch_first``.
    lengths : sequence of int or Tensor
        ``(B,)``, each at most ``T``.
    batch_first : bool
        Whether the batch axis comes first.

    Returns
    -------
    list of Tensor
        ``B`` tensors ``(L_i, *)``.
    """
    if not isinstance(padded_sequences, Tensor):
        raise TypeError(f"unpad_sequence: padded_sequences must be a Tensor, got "
                        f"{type(padded_sequences).__name__}")
    if batch_first:
        padded_sequences = padded_sequences.transpose(1, 0, *range(2, padded_sequences.ndim))
    steps, batch = padded_sequences.shape[:2]
    lengths = check_lengths(lengths, batch, steps, "unpad_sequence", minimum=0)
    return [padded_sequences[:int(length), b] for b, length in enumerate(lengths)]


def padded_in_packed_order(sequence):
    """A packed batch as ``(padded (T, B, *), lengths)``, the sequences kept in
    ``data``'s order (longest first) and padded with zeros: what a recurrent layer runs
    (``lengths`` a host int64 array)."""
    return _pad(sequence, False, 0.0, None, original_order=False)


def repack(padded, like):
    """``padded`` ``(T, B, *)``, in ``like``'s packed order (as
    :func:`padded_in_packed_order` gives it), packed as ``like`` is: same batch sizes and
    indices. A recurrent layer's output for a packed input."""
    sizes = like.batch_sizes.numpy()
    t, i = _packed_rows(sizes)
    batch = padded.shape[1]
    flat = padded.reshape((padded.shape[0] * batch,) + padded.shape[2:])
    return PackedSequence(flat[_on(padded, t * batch + i)], like.batch_sizes,
                          like.sorted_indices, like.unsorted_indices)


def unpack_sequence(packed_sequences):
    """Undo :func:`pack_sequence`: the sequences, in the original order.

    Parameters
    ----------
    packed_sequences : PackedSequence

    Returns
    -------
    list of Tensor
        ``B`` tensors ``(L_i, *)``.
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def _sequence_list(sequences, owner):
    if isinstance(sequences, Tensor):        # a padded tensor is its rows
        sequences = [sequences[i] for i in range(sequences.shape[0])]
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"{owner}: sequences must hold at least one sequence")
    for k, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"{owner}: sequences[{k}] must be a Tensor, got "
                            f"{type(s).__name__}")
        if s.ndim < 1 or s.shape[1:] != sequences[0].shape[1:]:
            raise SequenceError(f"{owner}: every sequence must be (L_i, *) with the same "
                                f"trailing shape; sequences[0] is {sequences[0].shape}, "
                                f"sequences[{k}] {s.shape}")
    return sequences
