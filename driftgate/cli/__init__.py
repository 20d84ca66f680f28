"""The ``driftgate`` command line (click): one module per command group.

A command parses its options, calls a use case (``driftgate.app``) or a
runner (``pipelines``), and shows the result through ``driftgate.cli.output``.
Heavy imports (TensorFlow, TFX) happen inside the commands that need them, so
``driftgate --help`` stays fast.
"""

from driftgate.cli.main import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, EXIT_USAGE, cli, main

__all__ = ["cli", "main", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_BLOCKED"]
