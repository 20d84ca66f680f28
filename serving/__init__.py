"""TF Serving side of driftgate: the on-disk model layout TF Serving reads
(``<root>/serving/<REGION>/<model>/<version>/``) and the release steps."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
