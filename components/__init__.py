"""Custom TFX components: thin shells around the pure logic beside them.

One folder a component: ``component.py`` (the TFX interface), ``executor.py``
where a stock executor is extended, and pure modules with no TFX in them.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def __getattr__(name: str):
    # Custom artifact types are reached as ``components.<Type>``: KFP schema
    # titles must be ``<module>.<Class>`` with one dot, and TFX's Kubeflow
    # entrypoint imports the title. Lazy, so pure modules here stay TFX-free.
    if name in ("GateReport", "CanaryVerdict", "ReleaseRecord", "RunRecord"):
        from components import artifacts

        return getattr(artifacts, name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
