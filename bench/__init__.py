"""Benchmarks, one command each; each prints its figures beside its references."""
