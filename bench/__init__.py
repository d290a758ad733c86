"""Benchmarks: store-level and HTTP workloads measured against the plain drivers."""
