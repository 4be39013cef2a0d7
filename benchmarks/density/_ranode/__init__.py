"""The studies of ``benchmarks/density/ranode.py``: one module per ``--study``, each with its
option defaults (``DEFAULTS``), the name of its result file (``out_name``) and ``run``."""
