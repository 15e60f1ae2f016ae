"""fastnn's global random state: a numpy Generator and a Philox 4x32-10 stream.

The numpy Generator draws for the array-level samplers (``rand``, ``randn``, initialisers, shuffling).
Native kernels that draw random numbers (dropout's mask, noise) use Philox, a counter-based
generator (csrc/core/philox.h) that gives the same numbers on every CPU path, at any thread count
and on the GPU: its state is a 64-bit key and the offset of the next unused counter. A kernel
draw takes (key, offset), returns how many counters it used, and the offset moves past them, so
successive draws never share a counter.

``fastnn.manual_seed(s)`` reseeds both (the Philox key is derived from the seed, the offset set to
0); ``get_rng_state()``/``set_rng_state(state)`` save and restore both as a JSON-serialisable dict
(numpy's bit-generator state with a ``"philox"`` entry: ``{"key": int, "offset": int}``).
"""
from __future__ import annotations

import copy
import hashlib
import json
import threading

import numpy as np

_U64 = 1 << 64
# a spawn key of its own, so the Philox key and the numpy generator's state come from different
# streams of the seed's entropy
_PHILOX_SPAWN_KEY = (0x5048494C,)


def _philox_key_from(entropy):
    words = np.random.SeedSequence(entropy, spawn_key=_PHILOX_SPAWN_KEY).generate_state(2, np.uint32)
    return int(words[0]) | (int(words[1]) << 32)


class PhiloxState:
    """One Philox stream: a 64-bit ``key`` and the ``offset`` of its next unused counter."""

    __slots__ = ("key", "offset")

    def __init__(self, key=None, offset=0):
        self.key = _philox_key_from(np.random.SeedSequence().entropy) if key is None else int(key)
        self.offset = int(offset)

    def seed(self, seed):
        self.key = _philox_key_from(int(seed))
        self.offset = 0

    def state(self):
        return {"key": self.key, "offset": self.offset}

    def set_state(self, state, fn="set_rng_state"):
        if not isinstance(state, dict) or set(state) != {"key", "offset"}:
            raise TypeError(f"{fn}: the 'philox' entry of argument 'state' must be a dict with 'key' and 'offset', "
                            f"got {state!r}")
        for name in ("key", "offset"):
            v = state[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < _U64:
                raise ValueError(f"{fn}: the Philox {name} in argument 'state' must be an int in [0, 2**64), "
                                 f"got {v!r}")
        self.key = int(state["key"])
        self.offset = int(state["offset"])

    def __repr__(self):
        return f"PhiloxState(key={self.key:#x}, offset={self.offset})"


_gen = [np.random.Generator(np.random.PCG64())]
_philox = PhiloxState()
_initial_seed = [None]
# a draw reads the offset, runs, then moves it: one draw at a time across Python threads
_draw_lock = threading.Lock()


def manual_seed(seed):
    """Seed the global generators (returns the numpy one, as ``torch.manual_seed`` returns its generator)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: argument 'seed' must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"manual_seed: argument 'seed' must be non-negative, got {seed}")
    _gen[0] = np.random.Generator(np.random.PCG64(seed))
    _philox.seed(seed)
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


def philox_draw(kernel, generator=None):
    """Run a Philox kernel on a stream and move the stream past the counters it used.

    ``kernel(key, offset)`` runs one native draw (e.g. ``lambda k, o: _C.dropout_mask(out, p, k, o)``) and
    returns the number of counters it used. The stream is ``generator``'s (a ``fastnn.Generator``) or,
    by default, the global one. Returns what the kernel returned.
    """
    st = _philox if generator is None else generator._philox
    with _draw_lock:
        used = int(kernel(st.key, st.offset))
        st.offset = (st.offset + used) % _U64
    return used


def state_of(gen, philox):
    """The state of a numpy Generator and a Philox stream as one JSON-serialisable dict."""
    state = copy.deepcopy(gen.bit_generator.state)
    state["philox"] = philox.state()
    return state


def _philox_key_of_legacy(state):
    """The Philox key for a state saved before fastnn had Philox (no ``"philox"`` entry): derived from the
    numpy state, so restoring one such state always gives the same draws afterwards."""
    digest = hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def from_state(state, fn="set_rng_state"):
    """``(numpy Generator, PhiloxState)`` from a dict of ``state_of`` (or one saved before Philox existed)."""
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise TypeError(f"{fn}: argument 'state' must be a dict returned by get_rng_state()")
    np_state = {k: v for k, v in state.items() if k != "philox"}
    bg_name = np_state["bit_generator"]
    bg_cls = getattr(np.random, bg_name, None) if isinstance(bg_name, str) else None
    if bg_cls is None:
        raise ValueError(f"{fn}: unknown bit generator {bg_name!r}")
    philox = PhiloxState(key=0)
    if "philox" in state:
        philox.set_state(state["philox"], fn)
    else:
        philox.key = _philox_key_of_legacy(np_state)
    bg = bg_cls()
    bg.state = copy.deepcopy(np_state)
    return np.random.Generator(bg), philox


def get_rng_state():
    """The global state: numpy's bit-generator state plus ``"philox"`` (plain ints and strings: JSON-serialisable)."""
    return state_of(_gen[0], _philox)


def set_rng_state(state):
    gen, philox = from_state(state)
    _gen[0] = gen
    _philox.key, _philox.offset = philox.key, philox.offset


def fork_rng():
    """Context manager restoring the global state (numpy and Philox) on exit."""
    class _Fork:
        def __enter__(self):
            self._state = get_rng_state()

        def __exit__(self, *exc):
            set_rng_state(self._state)
            return False
    return _Fork()
