"""LeNet-style convolutional classifiers: ``LeNet5`` (28x28 images) and ``DigitsCNN`` (8x8 digits)."""
from __future__ import annotations

from .. import nn

__all__ = ["LeNet5", "DigitsCNN"]


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max pooling: conv 5x5 (6) -> pool -> conv 5x5 (16) -> pool -> 120 -> 84 -> classes.

    With ``padding=0`` a 28x28 input gives 24 -> 12 -> 8 -> 4 (16 * 4 * 4 features); ``padding=2`` keeps
    the original 32x32 geometry on 28x28 input (16 * 5 * 5 features).
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=28, padding=0):
        super().__init__()
        s = (input_size + 2 * padding - 4) // 2
        s = (s - 4) // 2
        if s < 1:
            raise ValueError(f"LeNet5: input_size {input_size} is too small for two 5x5 convolutions and pools")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=padding), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * s * s, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class DigitsCNN(nn.Module):
    """A small CNN for scikit-learn's 8x8 digits: two 3x3 'same' convolutions with batch norm, a 2x2 max pool,
    dropout and two dense layers."""

    def __init__(self, num_classes=10, channels=(16, 32), hidden=64, dropout=0.25):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding="same"), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding="same"), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(c2 * 4 * 4, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
