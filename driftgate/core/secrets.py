"""Secrets at the edge: from the environment, or from a file the environment
names (a Kubernetes Secret mounted as a volume). Never from a config or a
spec; callers never log what this returns."""

import os
from typing import Mapping, Optional


def secret(name: str, env: Mapping[str, str]) -> Optional[str]:
    """``env[name]``, or the content of the file ``env[name + "_FILE"]`` (None
    when that file is not there: a Secret mounted as optional, without the key)."""
    if env.get(name):
        return env[name].strip()
    path = env.get(f"{name}_FILE")
    if path and os.path.exists(path):
        with open(path) as fh:
            return fh.read().strip()
    return None
