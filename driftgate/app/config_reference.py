"""The configuration reference, generated from the config dataclasses.

Every key a region file may set, section by section, with its type, its
allowed range or values, the shared default (``pipelines/regions/defaults.yaml``)
and what it means: the comments above the field in ``driftgate/core/config*.py``,
else the comment beside the key in ``defaults.yaml``. ``driftgate config
reference`` prints it; ``docs/configuration-reference.md`` is its output, and a
test regenerates it, so the page cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import tokenize
import typing
from pathlib import Path
from typing import Dict, List

from driftgate.core.config import DEFAULTS_FILE, REGIONS_DIR, RegionConfig

HEADER = """# Configuration reference

Generated from the config dataclasses by `driftgate config reference` (do not edit:
`tests/driftgate/app/test_config_reference.py` fails when this page and the code differ).
A region file `pipelines/regions/<REGION>.yaml` is merged over
`pipelines/regions/defaults.yaml`; every key below can be set in either. A key
that is not listed is refused with the file and the key named.
"""


def field_comments(cls) -> Dict[str, str]:
    """``{field: comment}`` from the ``#`` lines right above each field of
    ``cls`` in its source, or the comment on the field's own line."""
    lines, start = inspect.getsourcelines(cls)
    comments: Dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out = {}
    for i, line in enumerate(lines, start=1):
        stripped = line.strip()
        name = stripped.split(":", 1)[0]
        if not stripped or stripped.startswith(("#", '"', "@", "def ", "class ")) or ":" not in stripped:
            continue
        if not name.isidentifier():
            continue
        above, j = [], i - 1
        while j in comments and lines[j - 1].strip().startswith("#"):
            above.insert(0, comments[j])
            j -= 1
        text = " ".join(above) or (comments.get(i, "") if "#" in line else "")
        if text and name not in out:
            out[name] = text
    return out


def yaml_comments(path: Path) -> Dict[str, str]:
    """``{dotted key: comment}`` from the comments beside keys in a YAML file."""
    out, stack = {}, []
    for line in path.read_text().splitlines():
        body = line.split("#", 1)[0].rstrip()
        if not body.strip() or ":" not in body or body.strip().startswith("-"):
            continue
        indent = len(body) - len(body.lstrip())
        key = body.strip().split(":", 1)[0]
        stack = [(i, k) for i, k in stack if i < indent] + [(indent, key)]
        if "#" in line:
            out[".".join(k for _, k in stack)] = line.split("#", 1)[1].strip()
    return out


def _type_text(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return f"{_type_text(args[0])} or null" if len(args) == 1 else " or ".join(map(_type_text, args))
    if origin in (tuple, typing.Tuple):
        return f"list of {_type_text(typing.get_args(tp)[0])}"
    if origin in (dict, typing.Dict):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _allowed(meta) -> str:
    if meta.get("choices"):
        return " \\| ".join(f"`{c}`" for c in meta["choices"])
    lo, hi = meta.get("min"), meta.get("max")
    if lo is None and hi is None:
        return ""
    left = "(" if meta.get("lo_open") else "["
    return f"{left}{'' if lo is None else lo}, {'' if hi is None else hi}]"


def _default(defaults: dict, dotted: str, f) -> str:
    node = defaults
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            node = None
            break
        node = node[part]
    if node is not None:
        return f"`{json.dumps(node)}`"
    if f.default is not dataclasses.MISSING:
        return f"`{json.dumps(f.default)}`" if f.default is not None else "`null`"
    if f.default_factory is not dataclasses.MISSING:
        return "(section defaults)"
    return "required"


def _rows(cls, prefix: str, defaults: dict, yaml_notes: dict, sections: List[tuple]) -> List[str]:
    hints = typing.get_type_hints(cls)
    notes = field_comments(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("derived"):
            continue
        dotted = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            sections.append((dotted, tp))
            rows.append(f"| `{dotted}` | section | | | see [{dotted}](#{dotted.replace('.', '')}) |")
            continue
        note = (notes.get(f.name) or yaml_notes.get(dotted, "")).replace("|", "\\|")
        rows.append(
            f"| `{dotted}` | {_type_text(tp)} | {_allowed(f.metadata)} | {_default(defaults, dotted, f)} | {note} |"
        )
    return rows


def reference(regions_dir: Path = REGIONS_DIR) -> str:
    """The reference page (Markdown)."""
    from driftgate.core.strict import read_yaml

    defaults_path = Path(regions_dir) / DEFAULTS_FILE
    defaults = read_yaml(defaults_path)
    yaml_notes = yaml_comments(defaults_path)
    out = [HEADER]
    sections: List[tuple] = [("", RegionConfig)]
    while sections:
        dotted, cls = sections.pop(0)
        title = dotted or "top level"
        doc = inspect.getdoc(cls) or ""
        out += [f"## {title}", "", doc.split("\n\n")[0].replace("\n", " "), ""]
        out += ["| key | type | allowed | default | meaning |", "|---|---|---|---|---|"]
        out += _rows(cls, f"{dotted}." if dotted else "", defaults, yaml_notes, sections)
        out.append("")
    return "\n".join(out).rstrip() + "\n"
