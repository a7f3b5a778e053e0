"""Did-you-mean suggestions for unknown keys (SPEC §2.2)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache


def damerau_levenshtein(a: str, b: str) -> int:
    """The (unrestricted) Damerau-Levenshtein distance: insertions, deletions,
    substitutions and transpositions of adjacent characters, each costing 1.

    Lowrance-Wagner's algorithm; unlike the "optimal string alignment" variant it lets
    a transposed pair be edited again (``ca`` -> ``abc`` is 2).
    """
    if a == b:
        return 0
    if not a:
        return len(b)
    if not b:
        return len(a)
    infinity = len(a) + len(b)
    last_row_of: dict[str, int] = {}
    # d has a sentinel row and column of ``infinity`` around the classic table.
    d = [[infinity] * (len(b) + 2) for _ in range(len(a) + 2)]
    for i in range(len(a) + 1):
        d[i + 1][0] = infinity
        d[i + 1][1] = i
    for j in range(len(b) + 1):
        d[0][j + 1] = infinity
        d[1][j + 1] = j
    for i in range(1, len(a) + 1):
        last_col_match = 0
        for j in range(1, len(b) + 1):
            k = last_row_of.get(b[j - 1], 0)
            m = last_col_match
            cost = 0 if a[i - 1] == b[j - 1] else 1
            if cost == 0:
                last_col_match = j
            d[i + 1][j + 1] = min(
                d[i][j] + cost,
                d[i + 1][j] + 1,
                d[i][j + 1] + 1,
                d[k][m] + (i - k - 1) + 1 + (j - m - 1),
            )
        last_row_of[a[i - 1]] = i
    return d[len(a) + 1][len(b) + 1]


def closest_key(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to ``key`` (case-insensitively), if it is near enough:
    distance at most max(2, len(key) // 3). Ties go to the earliest candidate."""
    threshold = max(2, len(key) // 3)
    folded = key.lower()
    best: str | None = None
    best_distance = threshold + 1
    for candidate in candidates:
        # The distance is at least the difference in length; skip hopeless candidates.
        if abs(len(candidate) - len(folded)) >= best_distance:
            continue
        distance = damerau_levenshtein(folded, candidate.lower())
        if distance < best_distance:
            best, best_distance = candidate, distance
    return best


@lru_cache(maxsize=1024)
def unknown_key_message(key: str, candidates: tuple[str, ...]) -> str:
    """The W-UNKNOWN-KEY message; cached, as a generated document repeats its typos."""
    suggestion = closest_key(key, candidates)
    if suggestion is None:
        return f'unknown key "{key}"'
    return f'unknown key "{key}" (did you mean "{suggestion}"?)'
