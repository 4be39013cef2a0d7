"""Command-line subcommands, one module each (see :mod:`resonant_ad.cli`)."""
