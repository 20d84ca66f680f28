"""driftgate's own package: the foundation every layer stands on (``core``).

Layers, top to bottom (checked by tests/test_layers.py): the CLI and use cases
(``pipelines.cli`` for now), the pipeline definition and runners
(``pipelines``), TFX components and serving logic (``components``,
``serving``, ``trainer``), and ``driftgate.core``, which imports no other
driftgate module.
"""
