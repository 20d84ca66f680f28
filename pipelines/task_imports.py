"""What a Kubeflow task process imports: the cheap start-up of
``pipelines.kubeflow_entrypoint`` (see its docstring, *Start-up*).

Kept free of TFX and kfp at import time: it runs before them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import types
from typing import Optional


def prepare_imports() -> None:
    """Makes the ``__init__`` of ``kfp``, ``tfx.components`` and ``tfx.v1``, and
    ``tfx.types.standard_component_specs``, cheap for this process. Called only
    when this module is the container command (never on a plain import, so a
    test or compile process keeps its modules as they are); each step applies
    only to a module not imported yet.

    - ``kfp``: its ``__init__`` imports ``kfp.components``, ``kfp.dsl`` and
      ``kfp.client`` (kubernetes, jsonschema: about 2 s) unless ``_KFP_RUNTIME``
      is ``true``, the switch KFP's own lightweight-component containers set
      (``kfp/dsl/component_factory.py``: ``_KFP_RUNTIME=true python3 -m ...``).
      A task needs only ``kfp.pipeline_spec.pipeline_spec_pb2``, so ``kfp`` is
      imported with the switch on, and the variable is restored at once: the
      executor and its subprocesses see the environment they were given, and a
      later ``from kfp import dsl`` still imports all of ``kfp.dsl``.
    - ``tfx.components``: its ``__init__`` imports every standard component
      (TFMA, TFDV, Transform: about 5 s), while a task needs one executor
      module below it, and TFX's entrypoint utilities only
      ``tfx.components.evaluator.constants``.
    - ``tfx.v1``: its ``__init__`` imports ``tfx.v1.components``,
      ``extensions`` and ``orchestration`` (every component, the runners,
      ``kfp.client``), while a Python function component's module (``from tfx
      import v1 as tfx``) uses ``tfx.dsl`` and ``tfx.types`` when it is imported.
    - ``tfx.types.standard_component_specs`` (TFMA, TFDV and Beam: about 2 s) is
      imported by TFX's entrypoint utilities for two key names, read only for
      an Evaluator or a legacy ``input_base_uri`` property; an executor that
      needs it reads it in ``Do`` or imports what imports it anyway.

    Those three become :func:`_deferred_module` modules: the module is in
    ``sys.modules`` with its real spec, submodules of a package import as
    usual, and its own code runs the first time another name is read from it
    (``from tfx.components import Trainer``, ``standard_component_specs.BLESSING_KEY``).
    """
    if "kfp" not in sys.modules:
        before = os.environ.get("_KFP_RUNTIME")
        os.environ["_KFP_RUNTIME"] = "true"
        try:
            importlib.import_module("kfp")
        finally:
            if before is None:
                os.environ.pop("_KFP_RUNTIME", None)
            else:
                os.environ["_KFP_RUNTIME"] = before
    for name in ("tfx.components", "tfx.v1", "tfx.types.standard_component_specs"):
        _deferred_module(name)


def _deferred_module(name: str) -> Optional[types.ModuleType]:
    """Registers module ``name`` in ``sys.modules`` (and on its parent) without
    running its code. It has its real ``__spec__`` (and a package its
    ``__path__``, so ``import name.sub`` works as usual). Reading a name it
    lacks imports the submodule of that name if the package has one, else runs
    the module's code in it (once; from then on it is a plain module) and
    answers from what that defined. None when the module is imported already
    (left as it is) or cannot be found."""
    if name in sys.modules:
        return None
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return None
    package = spec.submodule_search_locations is not None
    module = importlib.util.module_from_spec(spec)
    lock, ran = threading.RLock(), []

    def __getattr__(attr: str):
        if package and not attr.startswith("__") and importlib.util.find_spec(f"{name}.{attr}"):
            return importlib.import_module(f"{name}.{attr}")
        if attr.startswith("__") and attr not in ("__all__", "__version__"):
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        with lock:
            if not ran:
                ran.append(True)
                module.__dict__.pop("__getattr__", None)
                spec.loader.exec_module(module)
        return getattr(module, attr)

    module.__getattr__ = __getattr__
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(importlib.import_module(parent), child, module)
    return module
