"""Benchmark of the execution engine: one process against Dask workers."""
