"""Code the benchmark scripts share. A script imports it as ``_common.<module>`` after putting
``benchmarks/`` on ``sys.path`` (the topic folders are imported the same way, e.g.
``templates.fidelity``)."""
