"""Custom TFX components: thin shells around the pure logic beside them.

One folder a component: ``component.py`` (the TFX interface), ``executor.py``
where a stock executor is extended, and pure modules with no TFX in them.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
