"""A block of training code written as a PyTorch user writes it (``dim=``, ``cat``,
``view``, ``permute``, ``size``, ``argmax``, an activation module, a loss module, an
optimizer with momentum and a scheduler), run once with torch and once with minigrad from
the same weights: every step's loss, accuracy and learning rate agree (issue 14)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.models import LSTM

torch = pytest.importorskip("torch")

VOCAB, EMBED, HIDDEN, CLASSES, BATCH, STEPS = 11, 6, 8, 3, 5, 7


def make_classifier(lib, nn, lstm_class):
    """The same model source for both libraries."""
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = lstm_class(EMBED, HIDDEN)
            self.act = nn.GELU()
            self.head = nn.Linear(3 * HIDDEN, CLASSES)

        def forward(self, tokens):                            # (B, T) class indices
            x = self.embed(tokens).permute(1, 0, 2)           # (T, B, E)
            out, (h, c) = self.lstm(x)
            last = out[-1]                                     # (B, H)
            pooled = out.mean(dim=0)
            state = h.view(h.size(1), -1)                      # (1, B, H) -> (B, H)
            features = lib.cat([last, pooled, state], dim=1)
            return self.head(self.act(features))
    return Classifier()


def train(lib, model, tokens, labels):
    """Plain PyTorch-style training code; ``lib`` is ``torch`` or ``minigrad``."""
    nn, optim = lib.nn, lib.optim
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = []
    for step in range(STEPS):
        logits = model(tokens)
        loss = loss_fn(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        with lib.no_grad():
            accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
            confidence = logits.softmax(dim=-1).max(dim=1).values.sum().item()
        history.append((loss.item(), accuracy, confidence, scheduler.get_last_lr()[0]))
    return history


def test_pytorch_style_training_gives_pytorchs_numbers():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, (BATCH, 9))
    labels = rng.integers(0, CLASSES, BATCH)

    torch.manual_seed(0)
    theirs = make_classifier(torch, torch.nn, torch.nn.LSTM).double()
    ours = make_classifier(mg, mg.nn, LSTM).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())

    expected = train(torch, theirs, torch.from_numpy(tokens), torch.from_numpy(labels))
    got = train(mg, ours, mg.tensor(tokens), mg.tensor(labels))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert expected[-1][0] < expected[0][0]             # it learns something
    for name, value in theirs.state_dict().items():     # ours holds NumPy arrays (API.md)
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(),
                                   rtol=1e-8, atol=1e-10, err_msg=name)
