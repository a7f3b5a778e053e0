"""Mutation testing for Aether: seeded, sampled, coverage-selected, run in a copy of the package."""
