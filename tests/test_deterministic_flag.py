"""``fastnn.use_deterministic_algorithms``: PyTorch's switch and its queries."""
import pytest

import fastnn
from fastnn import backend


@pytest.fixture(autouse=True)
def _restore():
    yield
    fastnn.use_deterministic_algorithms(False)


def test_default_off():
    assert fastnn.are_deterministic_algorithms_enabled() is False
    assert fastnn.is_deterministic_algorithms_warn_only_enabled() is False


def test_switch_and_warn_only():
    fastnn.use_deterministic_algorithms(True, warn_only=True)
    assert fastnn.are_deterministic_algorithms_enabled() is True
    assert fastnn.is_deterministic_algorithms_warn_only_enabled() is True
    assert backend.deterministic() is True
    fastnn.use_deterministic_algorithms(False)
    assert backend.deterministic() is fastnn.backends.cudnn.deterministic


def test_rejects_non_bool():
    with pytest.raises(TypeError, match="mode"):
        fastnn.use_deterministic_algorithms(1)
    with pytest.raises(TypeError, match="warn_only"):
        fastnn.use_deterministic_algorithms(True, warn_only="yes")
