"""The one sinusoidal position table: textbook values, and any window of it equal to the full table's rows."""

from __future__ import annotations

import math

import torch
from edu_emotionnet.encoders import sinusoidal_positions


def test_textbook_values() -> None:
    table = sinusoidal_positions(50, 8, torch.device("cpu"))
    for position in (0, 1, 7, 49):
        for i in range(4):
            angle = position / 10000 ** (2 * i / 8)
            assert math.isclose(table[position, 2 * i].item(), math.sin(angle), abs_tol=1e-5)
            assert math.isclose(table[position, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-5)


def test_a_window_is_bitwise_the_rows_of_the_full_table() -> None:
    """What the streaming encoder adds at steps 37..41 is exactly what the full forward adds there."""
    for dim in (8, 7):  # an odd width has one more sine than cosine column
        full = sinusoidal_positions(64, dim, torch.device("cpu"))
        assert torch.equal(sinusoidal_positions(5, dim, torch.device("cpu"), start=37), full[37:42])
        assert torch.equal(sinusoidal_positions(1, dim, torch.device("cpu"), start=63), full[63:])
    assert sinusoidal_positions(3, 7, torch.device("cpu")).shape == (3, 7)
