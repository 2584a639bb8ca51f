"""The seed tree: one ``SeedSequence`` per run, one independent stream per purpose.

Streams are keyed by ``(replication, purpose)``, not by creation order, so adding a new
purpose never shifts the draws of another one.  That is what makes common random numbers
work across policies: a policy that consumes more "choices" draws leaves "arrivals" untouched.
"""

from __future__ import annotations

import zlib

import numpy as np


def purpose_key(purpose: str) -> int:
    """Stable 32-bit key of a purpose name (CRC-32; never Python's salted ``hash``)."""
    return zlib.crc32(purpose.encode("utf-8"))


class Streams:
    """Named, lazily created random generators for one replication of one run.

    Args:
        seed: the run's root seed (a non-negative integer).
        replication: replication number (0, 1, ...); each gets an independent subtree.
    """

    def __init__(self, seed: int, replication: int = 0) -> None:
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be non-negative integers")
        self.seed = int(seed)
        self.replication = int(replication)
        self._gens: dict[str, np.random.Generator] = {}

    def seed_sequence(self, purpose: str) -> np.random.SeedSequence:
        """The ``SeedSequence`` of one purpose (child ``(replication, key)`` of the root)."""
        return np.random.SeedSequence(self.seed, spawn_key=(self.replication, purpose_key(purpose)))

    def __getitem__(self, purpose: str) -> np.random.Generator:
        gen = self._gens.get(purpose)
        if gen is None:
            gen = np.random.Generator(np.random.PCG64(self.seed_sequence(purpose)))
            self._gens[purpose] = gen
        return gen

    def fresh(self, purpose: str) -> np.random.Generator:
        """A new generator for ``purpose`` at its start (not shared with ``self[purpose]``)."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(purpose)))

    def child(self, replication: int) -> Streams:
        """The streams of another replication of the same run."""
        return Streams(self.seed, replication)
