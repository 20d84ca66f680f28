"""The ``driftgate`` command line (click): one module per command group.

A command parses its options, calls a use case (``driftgate.app``) or a
runner (``pipelines``), and shows the result through ``driftgate.cli.output``.
Heavy imports (TensorFlow, TFX) happen inside the commands that need them, so
``driftgate --help`` stays fast.

The group and its edge (errors become one line and an exit code) are in
``driftgate.cli.main``; this package's ``__init__`` imports nothing, so a
command module importing ``driftgate.cli.output`` never loads the group.
"""
