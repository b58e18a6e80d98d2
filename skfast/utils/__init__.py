"""Utilities shared by skfast estimators, tests and benchmarks."""
