"""Aether's benchmarks: ``python -m bench SCENARIO [ARGS]`` from the repository's root.

Not part of the installed package. What each scenario measures, its baseline and how to
read its table are in ``bench/README.md``.
"""
