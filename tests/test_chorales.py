"""The chorales as piano rolls (models/tasks/chorales.py): four voices, quarter-note
frames, 88 keys, a fixed split, the per-frame NLL; built on small scores made here, so
the corpus is never parsed by the tests."""
import numpy as np
import pytest
import torch

import minigrad as mg
from models.tasks import chorales

music21 = pytest.importorskip("music21", reason="the study extra is not installed "
                                                "(pip install -e '.[study]')")


def score(parts):
    """A score of ``{part name: [(MIDI pitches, quarter length), ...]}``."""
    from music21 import chord, note, stream
    made = stream.Score()
    for name, events in parts.items():
        part = stream.Part()
        part.partName = name
        for pitches, length in events:
            element = note.Note(pitches[0]) if len(pitches) == 1 else chord.Chord(pitches)
            element.quarterLength = length
            part.append(element)
        made.insert(0, part)
    return made


def test_four_voices_become_quarter_note_frames_of_88_keys():
    roll = chorales.piano_roll(score({
        "Soprano": [([72], 2.0), ([74], 1.0), ([76], 0.5), ([77], 0.5)],
        "Alto": [([67], 4.0)],
        "Tenor": [([64], 1.0), ([62, 65], 3.0)],       # a chord in one voice
        "Bass": [([48], 4.0)],
        "Horn": [([100], 4.0)],                        # an instrument: dropped
    }))
    assert roll.shape == (4, 88) and roll.dtype == np.float32
    on = [sorted(int(k) + 21 for k in np.flatnonzero(frame)) for frame in roll]
    # the frame at offset k holds what sounds then: the eighth note F5 at 3.5 is not seen
    assert on == [[48, 64, 67, 72], [48, 62, 65, 67, 72], [48, 62, 65, 67, 74],
                  [48, 62, 65, 67, 76]]


def test_a_piece_without_the_four_voices_is_left_out():
    assert chorales.piano_roll(score({"Soprano": [([72], 1.0)], "Alto": [([67], 1.0)],
                                      "Tenor": [([64], 1.0)]})) is None


def test_the_split_is_fixed_by_the_name():
    names = [f"bwv{k}.{j}" for k in range(1, 200) for j in range(1, 4)]
    splits = [chorales.split_of(n) for n in names]
    assert splits == [chorales.split_of(n) for n in names]
    fractions = {s: splits.count(s) / len(splits) for s in chorales.SPLITS}
    assert 0.5 < fractions["train"] < 0.7 and 0.12 < fractions["test"] < 0.28


def test_frame_nll_is_the_summed_bernoulli_nll_per_frame():
    rng = np.random.default_rng(0)
    rolls = [(rng.random((n, 88)) < 0.05).astype(np.float32) for n in (5, 3, 7)]
    inputs, targets, mask = chorales.pad(rolls)
    assert inputs.shape == (6, 3, 88) and mask.sum() == 4 + 2 + 6
    logits = rng.normal(size=targets.shape) * 3
    ours = chorales.frame_nll(mg.tensor(logits), mg.tensor(targets), mg.tensor(mask))
    per_key = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(logits), torch.tensor(targets, dtype=torch.float64), reduction="none")
    expected = (per_key.sum(-1) * torch.tensor(mask, dtype=torch.float64)).sum() / mask.sum()
    assert ours.item() == pytest.approx(expected.item(), rel=1e-12)


def test_the_rolls_are_cached_and_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_CACHE", str(tmp_path))
    fake = {"train": [("a", np.eye(88, dtype=np.float32)[:5])],
            "valid": [("b", np.eye(88, dtype=np.float32)[3:6])], "test": []}
    calls = []
    monkeypatch.setattr(chorales, "parse_corpus", lambda limit: calls.append(limit) or fake)
    first = chorales.load_chorales(limit=2)
    second = chorales.load_chorales(limit=2)
    assert calls == [2]                        # parsed once, then read from the cache
    assert list((tmp_path).glob("*.npz"))
    for split in chorales.SPLITS:
        assert [n for n, _ in second[split]] == [n for n, _ in first[split]]
        for (_, a), (_, b) in zip(first[split], second[split]):
            np.testing.assert_array_equal(a, b)
