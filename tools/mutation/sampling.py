"""Seeded, file-stratified sampling: the same seed and tree give the same mutants, and every
file of a package gets its share (at least one mutant when the sample allows)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from .mutants import Mutant


def sample(package: str, by_file: dict[str, list[Mutant]], size: int, seed: int) -> list[Mutant]:
    files = sorted(path for path, mutants in by_file.items() if mutants)
    quotas = _quotas([len(by_file[path]) for path in files], size)
    chosen: list[Mutant] = []
    for path, quota in zip(files, quotas, strict=True):
        rng = random.Random(f"{seed}:{package}:{path}")
        chosen.extend(sorted(rng.sample(by_file[path], quota), key=lambda mutant: mutant.node_index))
    return chosen


def _quotas(counts: Sequence[int], size: int) -> list[int]:
    """Split ``size`` over files in proportion to their mutant counts (largest remainder),
    giving every file one first when ``size`` covers all files."""
    total = sum(counts)
    size = min(size, total)
    base = [1 if size >= len(counts) else 0 for _ in counts]
    remaining = size - sum(base)
    spare = [count - given for count, given in zip(counts, base, strict=True)]
    spare_total = sum(spare)
    shares = [remaining * count / spare_total if spare_total else 0.0 for count in spare]
    quotas = [given + int(share) for given, share in zip(base, shares, strict=True)]
    order = sorted(range(len(counts)), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for index in order[: size - sum(quotas)]:
        quotas[index] += 1
    return [min(quota, count) for quota, count in zip(quotas, counts, strict=True)]
