"""driftgate's component shells: a TFX component and its executor built from one
typed Python function, without Apache Beam.

TFX's ``@tfx.dsl.components.component`` builds exactly two classes from such a
function, but importing it imports Apache Beam (its ``annotations`` module
imports ``apache_beam`` for ``BeamComponentParameter``, its ``decorators``
module ``base_beam_executor``): about 1.5 s of every Kubeflow task that runs a
function component, for tasks that never build a Beam pipeline
(``benchmarks/bench_task_startup.py``). :func:`component` builds the same two
classes from annotations of its own, importing only TFX's base classes:

- a ``BaseComponent`` named after the function, whose constructor takes the
  inputs (channels) and parameters as keywords, refuses unknown or missing
  ones, and creates one output channel per output;
- a ``BaseExecutor`` named ``<Function>_Executor``, set in the function's
  module (the class path the compiled spec names, as TFX's decorator names
  it), whose ``Do`` calls the function with one artifact per input and output
  and each parameter, the function's default where the spec gave none.

Annotations: ``In[ArtifactType]``, ``Out[ArtifactType]``, ``Param[str]`` or
``Param[int]`` (with an optional default). Nothing else (no return values, no
optional inputs, no Beam): what driftgate's nodes use, and an error naming the
function and argument for anything else.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable, Dict, List

from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import channel, component_spec

from driftgate.core import logs

PARAMETER_TYPES = (str, int)


class _Annotation:
    def __init__(self, role: str, of: type):
        self.role, self.of = role, of

    def __repr__(self) -> str:
        return f"{self.role}[{getattr(self.of, '__name__', self.of)}]"


class _Role:
    role = ""

    def __class_getitem__(cls, of: type) -> _Annotation:
        return _Annotation(cls.role, of)


class In(_Role):
    """An input artifact: ``examples: In[Examples]``."""

    role = "In"


class Out(_Role):
    """An output artifact the function writes: ``report: Out[GateReport]``."""

    role = "Out"


class Param(_Role):
    """An execution parameter (``str`` or ``int``), recorded in ML Metadata."""

    role = "Param"


class ShellComponent(base_component.BaseComponent):
    """A component built by :func:`component` (keyword arguments only)."""

    def __init__(self, **kwargs):
        spec = self.SPEC_CLASS
        name = type(self).__name__
        unknown = sorted(set(kwargs) - set(spec.INPUTS) - set(spec.PARAMETERS))
        if unknown:
            raise TypeError(f"{name}() got unknown argument(s) {', '.join(unknown)}")
        missing = [
            key
            for key, declared in {**spec.INPUTS, **spec.PARAMETERS}.items()
            if key not in kwargs and not declared.optional
        ]
        if missing:
            raise TypeError(f"{name}() missing argument(s) {', '.join(missing)}")
        given = dict(kwargs)
        for key, declared in spec.OUTPUTS.items():
            artifact = declared.type()
            given[key] = channel.OutputChannel(artifact.type, self, key).set_artifacts([artifact])
        super().__init__(spec(**given))
        self._id = name  # the default node id, as for TFX's function components


class ShellExecutor(base_executor.BaseExecutor):
    """Calls the component's function with its artifacts and parameters."""

    _FUNCTION: Callable = staticmethod(lambda: None)
    _ROLES: Dict[str, str] = {}
    _DEFAULTS: Dict[str, Any] = {}

    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        args = {}
        for key, role in self._ROLES.items():
            if role == "Param":
                if key in exec_properties and exec_properties[key] is not None:
                    args[key] = exec_properties[key]
                elif key not in self._DEFAULTS:
                    raise ValueError(f"{type(self).__name__}: parameter {key!r} was not given")
                continue
            artifacts = (input_dict if role == "In" else output_dict).get(key, [])
            if len(artifacts) != 1:
                raise ValueError(
                    f"{type(self).__name__}: expected one {role.lower()}put artifact {key!r}, got {len(artifacts)}"
                )
            args[key] = artifacts[0]
        with logs.context(**self._log_context(exec_properties)):
            self._FUNCTION(**args)

    def _log_context(self, exec_properties: Dict[str, Any]) -> Dict[str, Any]:
        """The run's context for every log line and audit record of this node:
        region (the ``layout`` parameter), run id, node id, config hash."""
        import json

        ctx: Dict[str, Any] = {"runner": logs.current().get("runner", "local")}
        try:
            ctx["region"] = json.loads(exec_properties.get("layout") or "{}").get("region")
        except (ValueError, AttributeError):
            pass
        context = getattr(self, "_context", None)
        ctx["run_id"] = getattr(context, "_pipeline_run_id", None) or None
        node = getattr(context, "_pipeline_node", None)
        ctx["node"] = node.node_info.id if node is not None and node.node_info.id else type(self).__name__
        ctx["config_hash"] = exec_properties.get("config_hash") or None
        return ctx


def component(func: Callable) -> type:
    """The component class for ``func`` (see the module docstring); also sets
    ``<func>_Executor`` in ``func``'s module."""
    name, where = func.__name__, f"{func.__module__}.{func.__name__}"
    if func.__qualname__ != name:
        raise TypeError(f"{where}: a component function must be defined at module level")
    inputs, outputs, parameters, roles, defaults = {}, {}, {}, {}, {}
    for arg, p in inspect.signature(func).parameters.items():
        note = p.annotation
        if not isinstance(note, _Annotation):
            raise TypeError(f"{where}: argument {arg!r} needs an In[...], Out[...] or Param[...] annotation")
        has_default = p.default is not inspect.Parameter.empty
        if note.role == "Param":
            if note.of not in PARAMETER_TYPES:
                raise TypeError(f"{where}: parameter {arg!r} must be Param[str] or Param[int], not {note!r}")
            parameters[arg] = component_spec.ExecutionParameter(type=note.of, optional=has_default)
            if has_default:
                defaults[arg] = p.default
        elif has_default:
            raise TypeError(f"{where}: artifact argument {arg!r} cannot have a default")
        elif note.role == "In":
            inputs[arg] = component_spec.ChannelParameter(type=note.of)
        else:
            outputs[arg] = component_spec.ChannelParameter(type=note.of)
        roles[arg] = note.role
    module = sys.modules[func.__module__]
    spec = type(
        f"{name}Spec",
        (component_spec.ComponentSpec,),
        {"INPUTS": inputs, "OUTPUTS": outputs, "PARAMETERS": parameters, "__module__": func.__module__},
    )
    executor = type(
        f"{name}_Executor",
        (ShellExecutor,),
        {
            "_FUNCTION": staticmethod(func),
            "_ROLES": roles,
            "_DEFAULTS": defaults,
            "__module__": func.__module__,
            "__doc__": func.__doc__,
        },
    )
    setattr(module, executor.__name__, executor)
    return type(
        name,
        (ShellComponent,),
        {
            "SPEC_CLASS": spec,
            "EXECUTOR_SPEC": executor_spec.ExecutorClassSpec(executor_class=executor),
            "__module__": func.__module__,
            "__doc__": func.__doc__,
        },
    )
