"""fastnn's global random generator: one numpy Generator that every random op uses.

``fastnn.manual_seed(s)`` reseeds it; ``get_rng_state()``/``set_rng_state(state)`` save and restore
it as a JSON-serialisable dict (numpy's bit-generator state).
"""
from __future__ import annotations

import copy

import numpy as np

_gen = [np.random.Generator(np.random.PCG64())]
_initial_seed = [None]


def manual_seed(seed):
    """Seed the global generator (returns it, as ``torch.manual_seed`` returns its generator)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: argument 'seed' must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"manual_seed: argument 'seed' must be non-negative, got {seed}")
    _gen[0] = np.random.Generator(np.random.PCG64(seed))
    _initial_seed[0] = seed
    return _gen[0]


seed_all = manual_seed


def seed():
    """Reseed from OS entropy; returns the seed used."""
    s = int(np.random.SeedSequence().entropy % (2 ** 63))
    manual_seed(s)
    return s


def initial_seed():
    return _initial_seed[0]


def generator() -> np.random.Generator:
    """The global numpy Generator (draw from it, never replace it)."""
    return _gen[0]


def get_rng_state():
    """The generator's state: a dict of plain ints/strings (JSON-serialisable)."""
    return copy.deepcopy(_gen[0].bit_generator.state)


def set_rng_state(state):
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise TypeError("set_rng_state: argument 'state' must be a dict returned by get_rng_state()")
    bg_name = state["bit_generator"]
    bg_cls = getattr(np.random, bg_name, None)
    if bg_cls is None:
        raise ValueError(f"set_rng_state: unknown bit generator {bg_name!r}")
    bg = bg_cls()
    bg.state = copy.deepcopy(state)
    _gen[0] = np.random.Generator(bg)


def fork_rng():
    """Context manager restoring the generator's state on exit."""
    class _Fork:
        def __enter__(self):
            self._state = get_rng_state()

        def __exit__(self, *exc):
            set_rng_state(self._state)
            return False
    return _Fork()
