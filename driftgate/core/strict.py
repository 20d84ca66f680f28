"""Strict YAML -> frozen dataclasses: the machinery under the region config.

Reads YAML mappings, deep-merges an override file over defaults while
remembering which file set each dotted key, and builds dataclasses from the
result: an unknown key (with a "did you mean"), a missing key, a wrong type or
an out-of-range value raises :class:`ConfigError` naming the file and the
dotted key. Field metadata carries the checks (``rng(...)``, ``choices``), and
``derived=True`` marks fields the loader fills itself.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple

import yaml

from driftgate.core.errors import DriftgateError


class ConfigError(DriftgateError, ValueError):
    """A region configuration is unusable; the message names file and key."""


def rng(lo=None, hi=None, lo_open=False) -> dict:
    """Field metadata: the value must lie in [lo, hi] (or (lo, hi] when lo_open)."""
    return {"min": lo, "max": hi, "lo_open": lo_open}


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def merge(base: dict, over: dict, base_src: dict, over_file: str, prefix: str = "") -> tuple:
    """Deep-merges ``over`` into ``base``; returns (merged, origin) where origin maps
    each dotted key to the file that set it (for error messages)."""
    merged = dict(base)
    origin = dict(base_src)
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            sub, sub_origin = merge(merged[key], value, origin, over_file, dotted + ".")
            merged[key] = sub
            origin.update(sub_origin)
        else:
            merged[key] = value
        origin[dotted] = over_file
    return merged, origin


def origins_of(data: dict, file: str, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        out[f"{prefix}{key}"] = file
        if isinstance(value, dict):
            out.update(origins_of(value, file, f"{prefix}{key}."))
    return out


def type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def convert(value: Any, tp: Any, dotted: str, origin: dict, meta: Mapping) -> Any:
    """Checks ``value`` against type ``tp``; returns it in canonical form
    (tuples for lists, dicts for mappings, dataclasses built recursively)."""
    where = origin.get(dotted) or origin.get(dotted.split("[")[0].rsplit(".", 1)[0], "?")
    kind = typing.get_origin(tp)
    if kind is typing.Union:  # Optional[...]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return convert(value, args[0], dotted, origin, meta)
    if kind in (tuple, Tuple):
        item_tp = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: {dotted}: expected a list of {type_name(item_tp)}, got {value!r}")
        return tuple(convert(v, item_tp, f"{dotted}[{i}]", origin, meta) for i, v in enumerate(value))
    if kind in (dict, Dict, collections.abc.Mapping):
        _, value_tp = typing.get_args(tp)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {dotted}: expected a mapping, got {value!r}")
        return {str(k): convert(v, value_tp, f"{dotted}.{k}", origin, meta) for k, v in sorted(value.items())}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {dotted}: expected a mapping, got {value!r}")
        return build(tp, value, origin, dotted + ".")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {dotted}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {dotted}: expected a whole number, got {value!r}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {dotted}: expected a number, got {value!r}")
        value = float(value)
    elif tp is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {dotted}: expected a non-empty string, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{where}: {dotted}: {value!r} is not one of: {', '.join(choices)}")
        return value
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("lo_open") and value == lo)):
        op = ">" if meta.get("lo_open") else ">="
        raise ConfigError(f"{where}: {dotted}: {value!r} is out of range: must be {op} {lo}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where}: {dotted}: {value!r} is out of range: must be <= {hi}")
    return value


def build(cls: type, data: dict, origin: dict, prefix: str = "") -> Any:
    """Builds dataclass ``cls`` from ``data``: unknown keys, missing keys (without
    a default), wrong types and out-of-range values raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("derived")}
    for key in data:
        if key not in fields:
            dotted = f"{prefix}{key}"
            close = [k for k in fields if k.replace("_", "") == str(key).replace("_", "").lower()]
            close = close or difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.8)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{origin.get(dotted, '?')}: unknown key '{dotted}'{hint}; allowed here: {', '.join(sorted(fields))}"
            )
    kwargs = {}
    for name, f in fields.items():
        dotted = f"{prefix}{name}"
        if name not in data:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            parent = prefix.rstrip(".")
            where = (origin.get(parent) if parent else None) or origin.get("region", "?")
            raise ConfigError(
                f"{where}: missing key '{dotted}': set it in the region file or in defaults.yaml"
            )
        kwargs[name] = convert(data[name], hints[name], dotted, origin, f.metadata)
    obj = cls(**kwargs)
    problem = obj.problem() if hasattr(obj, "problem") else None
    if problem:
        parent = prefix.rstrip(".")
        raise ConfigError(f"{origin.get(parent, '?')}: {parent}: {problem}")
    return obj
