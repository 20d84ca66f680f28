"""The versioned-schema workflow ML engineers use: the operations behind
``driftgate schema`` on the store (``pipelines.schema_store``). Validate a
file with errors that name the file, line and feature; summarise; diff two
versions semantically; infer a draft; propose the smallest edit that accepts
a span; check a span against any version; release a version and keep its
changelog. A released version (pinned in a region config at any point in
history, listed in ``schemas/released.json``) is never edited: a change is a
new version. TFDV is imported only where statistics are needed. Docs:
``docs/schemas.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2

from components.ingest.errors import refuse_nul
from driftgate.core import storage
from driftgate.core.config import RegionConfig
from pipelines.schema_store import (
    RELEASED_FILE,
    SchemaError,
    digest,
    load,
    release_key,
    release_problem,
    released,
    schemas_root,
    version_path,
)

TRAINING, SERVING = "TRAINING", "SERVING"


# --- validation ------------------------------------------------------------------


def _domain_kind(f: schema_pb2.Feature) -> Optional[str]:
    return f.WhichOneof("domain_info")


def problems(schema: schema_pb2.Schema, config: Optional[RegionConfig] = None) -> List[str]:
    """Everything wrong with a parsed schema, one line each naming the feature."""
    out = []
    names = [f.name for f in schema.feature]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"feature '{dup}' is declared more than once")
    string_domains = {d.name for d in schema.string_domain}
    envs = set(schema.default_environment)
    if envs and not {TRAINING, SERVING} <= envs:
        out.append(f"default_environment must list {TRAINING} and {SERVING}, has {sorted(envs)}")
    for f in schema.feature:
        kind = _domain_kind(f)
        ftype = schema_pb2.FeatureType.Name(f.type)
        if kind == "int_domain":
            if f.type != schema_pb2.INT:
                out.append(f"feature '{f.name}': int_domain on a {ftype} feature")
            if (
                f.int_domain.HasField("min")
                and f.int_domain.HasField("max")
                and f.int_domain.min > f.int_domain.max
            ):
                out.append(f"feature '{f.name}': int_domain min {f.int_domain.min} > max {f.int_domain.max}")
        elif kind == "float_domain":
            if f.type != schema_pb2.FLOAT:
                out.append(f"feature '{f.name}': float_domain on a {ftype} feature")
            fd = f.float_domain
            if fd.HasField("min") and fd.HasField("max") and fd.min > fd.max:
                out.append(f"feature '{f.name}': float_domain min {fd.min} > max {fd.max}")
        elif kind in ("domain", "string_domain"):
            if f.type != schema_pb2.BYTES:
                out.append(f"feature '{f.name}': a string domain on a {ftype} feature")
            if kind == "domain" and f.domain not in string_domains:
                out.append(
                    f"feature '{f.name}': domain '{f.domain}' is not defined (no string_domain named so)"
                )
        if f.HasField("presence"):
            frac = f.presence.min_fraction
            if not 0.0 <= frac <= 1.0:
                out.append(f"feature '{f.name}': presence.min_fraction {frac} is outside [0, 1]")
        if f.HasField("value_count") and f.value_count.max and f.value_count.min > f.value_count.max:
            out.append(f"feature '{f.name}': value_count min {f.value_count.min} > max {f.value_count.max}")
        both = set(f.in_environment) & set(f.not_in_environment)
        if both:
            out.append(f"feature '{f.name}': both in and not in environment {sorted(both)}")
        for env in list(f.in_environment) + list(f.not_in_environment):
            if envs and env not in envs:
                out.append(f"feature '{f.name}': environment '{env}' is not a default_environment")
        mass = f.distribution_constraints.min_domain_mass
        if f.HasField("distribution_constraints") and not 0.0 <= mass <= 1.0:
            out.append(
                f"feature '{f.name}': distribution_constraints.min_domain_mass {mass} is outside [0, 1]"
            )
        for which in ("drift_comparator", "skew_comparator"):
            if f.HasField(which):
                comp = getattr(f, which)
                for norm in ("infinity_norm", "jensen_shannon_divergence", "normalized_abs_difference"):
                    if comp.HasField(norm):
                        t = getattr(comp, norm).threshold
                        if not 0.0 < t <= 1.0:
                            out.append(f"feature '{f.name}': {which}.{norm}.threshold {t} is outside (0, 1]")
    for d in schema.string_domain:
        if len(set(d.value)) != len(d.value):
            out.append(f"string_domain '{d.name}': repeated values")
    if config is not None:
        by_name = {f.name: f for f in schema.feature}
        for name in list(config.features.all) + [config.features.label]:
            if name not in by_name:
                out.append(
                    f"feature '{name}' is configured in {config.source_file} but missing from the schema"
                )
        label = by_name.get(config.features.label)
        if (
            label is not None
            and SERVING not in label.not_in_environment
            and (not label.in_environment or SERVING in label.in_environment)
        ):
            out.append(
                f"feature '{label.name}' is the label but is in the {SERVING} environment: "
                f'add not_in_environment: "{SERVING}" (serving requests carry no label)'
            )
    return out


def validate_file(path: Path, config: Optional[RegionConfig] = None) -> schema_pb2.Schema:
    """Parses and validates ``path``; raises SchemaError listing every problem."""
    schema = load(path)
    found = problems(schema, config)
    if found:
        raise SchemaError(f"{path}: {len(found)} problem(s):\n  - " + "\n  - ".join(found))
    return schema


# --- summary and semantic diff ----------------------------------------------------


def _domain_text(schema, f) -> str:
    kind = _domain_kind(f)
    if kind == "int_domain":
        d = f.int_domain
        cat = ", categorical" if d.is_categorical else ""
        return f"[{d.min if d.HasField('min') else '-inf'}, {d.max if d.HasField('max') else 'inf'}]{cat}"
    if kind == "float_domain":
        d = f.float_domain
        return f"[{d.min if d.HasField('min') else '-inf'}, {d.max if d.HasField('max') else 'inf'}]"
    values = _string_values(schema, f)
    if values is not None:
        return f"{len(values)} values" + (f" ({', '.join(sorted(values)[:5])}...)" if values else "")
    return "-"


def _string_values(schema, f) -> Optional[set]:
    kind = _domain_kind(f)
    if kind == "string_domain":
        return set(f.string_domain.value)
    if kind == "domain":
        for d in schema.string_domain:
            if d.name == f.domain:
                return set(d.value)
    return None


def _envs(schema, f) -> str:
    all_envs = list(schema.default_environment) or ["(all)"]
    if f.in_environment:
        return ",".join(f.in_environment)
    return ",".join(e for e in all_envs if e not in f.not_in_environment)


def _thresholds(f) -> str:
    parts = []
    for which in ("drift_comparator", "skew_comparator"):
        if f.HasField(which):
            comp = getattr(f, which)
            for norm in ("infinity_norm", "jensen_shannon_divergence", "normalized_abs_difference"):
                if comp.HasField(norm):
                    parts.append(f"{which.split('_')[0]}:{norm}={getattr(comp, norm).threshold}")
    if f.HasField("distribution_constraints"):
        parts.append(f"min_domain_mass={f.distribution_constraints.min_domain_mass}")
    return " ".join(parts) or "-"


def summary(schema: schema_pb2.Schema) -> str:
    """A readable table: feature, type, domain, presence, environments, thresholds."""
    head = f"{'feature':<16}{'type':<7}{'domain':<44}{'presence':<10}{'environments':<18}thresholds"
    lines = [head, "-" * (len(head) + 10)]
    for f in sorted(schema.feature, key=lambda f: f.name):
        presence = f"{f.presence.min_fraction:.2f}" if f.HasField("presence") else "-"
        lines.append(
            f"{f.name:<16}{schema_pb2.FeatureType.Name(f.type):<7}{_domain_text(schema, f)[:43]:<44}"
            f"{presence:<10}{_envs(schema, f):<18}{_thresholds(f)}"
        )
    return "\n".join(lines)


def diff(a: schema_pb2.Schema, b: schema_pb2.Schema) -> List[str]:
    """Semantic differences from ``a`` to ``b``, one line each."""
    fa, fb = {f.name: f for f in a.feature}, {f.name: f for f in b.feature}
    out = [f"+ feature {n} ({schema_pb2.FeatureType.Name(fb[n].type)})" for n in sorted(set(fb) - set(fa))]
    out += [f"- feature {n}" for n in sorted(set(fa) - set(fb))]
    for n in sorted(set(fa) & set(fb)):
        x, y = fa[n], fb[n]
        if x.type != y.type:
            out.append(
                f"~ {n}: type {schema_pb2.FeatureType.Name(x.type)} -> {schema_pb2.FeatureType.Name(y.type)}"
            )
        px = x.presence.min_fraction if x.HasField("presence") else None
        py = y.presence.min_fraction if y.HasField("presence") else None
        if px != py:
            out.append(f"~ {n}: presence.min_fraction {px} -> {py}")
        vx, vy = _string_values(a, x), _string_values(b, y)
        if vx is not None or vy is not None:
            added, removed = sorted((vy or set()) - (vx or set())), sorted((vx or set()) - (vy or set()))
            if added:
                out.append(f"~ {n}: domain values added: {', '.join(added)}")
            if removed:
                out.append(f"~ {n}: domain values removed: {', '.join(removed)}")
        dx, dy = _domain_text(a, x), _domain_text(b, y)
        if _domain_kind(x) in ("int_domain", "float_domain") or _domain_kind(y) in (
            "int_domain",
            "float_domain",
        ):
            if dx != dy:
                out.append(f"~ {n}: range {dx} -> {dy}")
        if _envs(a, x) != _envs(b, y):
            out.append(f"~ {n}: environments {_envs(a, x)} -> {_envs(b, y)}")
        if _thresholds(x) != _thresholds(y):
            out.append(f"~ {n}: thresholds {_thresholds(x)} -> {_thresholds(y)}")
    if list(a.default_environment) != list(b.default_environment):
        out.append(f"~ default_environment {list(a.default_environment)} -> {list(b.default_environment)}")
    return out


# --- statistics-based operations ------------------------------------------------------


def span_csv_statistics(files: List[str], schema: schema_pb2.Schema):
    """Statistics of a span's CSV files, decoded as ExampleGen decodes them."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import statistics_pb2

    merged = statistics_pb2.DatasetFeatureStatisticsList()
    opts = tfdv.StatsOptions(schema=schema)
    for f in files:
        refuse_nul(f)  # TFDV's CSV decoder would stop with "line contains NUL", naming no file
        stats = tfdv.generate_statistics_from_csv(f, stats_options=opts)
        if merged.datasets:
            raise SchemaError("check one CSV file per span (merge the files first)")
        merged.CopyFrom(stats)
    return merged


def check(stats, schema: schema_pb2.Schema) -> list:
    """Anomalies of a span's statistics under ``schema`` (TRAINING environment)."""
    import tensorflow_data_validation as tfdv

    from components.gate.decision import classify

    anomalies = tfdv.validate_statistics(stats, schema, environment=TRAINING)
    return classify({"span": anomalies})


def infer(stats, config: RegionConfig) -> schema_pb2.Schema:
    """A draft schema from statistics, with driftgate's conventions applied:
    TRAINING/SERVING environments, the label only in TRAINING, integer
    categoricals marked categorical."""
    import tensorflow_data_validation as tfdv

    schema = tfdv.infer_schema(stats)
    del schema.default_environment[:]
    schema.default_environment.extend([TRAINING, SERVING])
    for f in schema.feature:
        if f.name == config.features.label:
            f.not_in_environment.append(SERVING)
        if f.name in config.features.categorical and f.type == schema_pb2.INT:
            f.int_domain.is_categorical = True
    return schema


def _feature_stats(stats, name):
    for f in stats.datasets[0].features:
        if (".".join(f.path.step) if f.path.step else f.name) == name:
            return f
    return None


@dataclass
class Proposal:
    schema: schema_pb2.Schema
    changes: List[str] = field(default_factory=list)
    not_fixed: List[str] = field(default_factory=list)


def propose(stats, schema: schema_pb2.Schema) -> Proposal:
    """The smallest edits to ``schema`` that accept the span: new categorical
    values added, ranges widened to the span's min/max, presence lowered to what
    was seen. Anything else (type changes, missing columns) is left for a person."""
    new = schema_pb2.Schema()
    new.CopyFrom(schema)
    by_name = {f.name: f for f in new.feature}
    proposal = Proposal(new)
    for finding in check(stats, schema):
        f, fs = by_name.get(finding.feature), _feature_stats(stats, finding.feature)
        types = set(finding.types)
        if f is None or fs is None:
            proposal.not_fixed.append(f"{finding.feature}: {finding.description}")
            continue
        fixed = False
        if "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in types:
            values = _string_values(new, f) or set()
            seen = [b.label for b in fs.string_stats.rank_histogram.buckets] or [
                t.value for t in fs.string_stats.top_values
            ]
            target = (
                f.string_domain
                if _domain_kind(f) == "string_domain"
                else next((d for d in new.string_domain if d.name == f.domain), None)
            )
            added = sorted(v for v in seen if v not in values)
            if target is not None and added:
                target.value.extend(added)
                proposal.changes.append(f"{f.name}: add domain values {', '.join(added)}")
                fixed = True
        if types & {
            "INT_TYPE_BIG_INT",
            "INT_TYPE_SMALL_INT",
            "FLOAT_TYPE_BIG_FLOAT",
            "FLOAT_TYPE_SMALL_FLOAT",
        }:
            ns = fs.num_stats
            dom = f.int_domain if _domain_kind(f) == "int_domain" else f.float_domain
            cast = int if _domain_kind(f) == "int_domain" else float
            if dom.HasField("min") and ns.min < dom.min:
                proposal.changes.append(f"{f.name}: min {dom.min} -> {cast(ns.min)}")
                dom.min = cast(ns.min)
            if dom.HasField("max") and ns.max > dom.max:
                proposal.changes.append(f"{f.name}: max {dom.max} -> {cast(ns.max)}")
                dom.max = cast(ns.max)
            fixed = True
        if "FEATURE_TYPE_LOW_FRACTION_PRESENT" in types:
            common = fs.num_stats.common_stats if fs.HasField("num_stats") else fs.string_stats.common_stats
            total = common.num_non_missing + common.num_missing
            seen = common.num_non_missing / total if total else 0.0
            lowered = float(int(seen * 100) / 100)
            proposal.changes.append(f"{f.name}: presence.min_fraction {f.presence.min_fraction} -> {lowered}")
            f.presence.min_fraction = lowered
            fixed = True
        if not fixed:
            proposal.not_fixed.append(f"{finding.feature}: {finding.description}")
    return proposal


# --- released versions ---------------------------------------------------------------


# --- releases ------------------------------------------------------------------


def release(region: str, version: int, schemas_dir: Optional[Path] = None) -> Tuple[str, str]:
    """Records ``region``/``version`` as released (its content hash); refuses to
    change the hash of a version already released."""
    key = release_key(region, version)
    sha = digest(version_path(region, version, schemas_dir))
    table = released(schemas_dir)
    problem = release_problem(region, version, table[key], schemas_dir) if key in table else None
    if problem:
        raise SchemaError(problem)
    table[key] = sha
    out = schemas_root(schemas_dir) / RELEASED_FILE
    storage.write_atomic(str(out), json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    from driftgate.core import audit, logs

    # a release lives in the repository (released.json, its commit); the regions'
    # trails record the pin when a run first uses it (components.monitor.trail)
    logs.event(
        "schema_released",
        f"{key} released ({sha[:12]})",
        region=region,
        version=version,
        sha=sha,
        **audit.trigger(),
    )
    return key, sha


def append_changelog(region: str, version: int, lines: List[str], schemas_dir: Optional[Path] = None) -> Path:
    import datetime as dt

    path = schemas_root(schemas_dir) / region / "CHANGELOG.md"
    text = path.read_text() if path.is_file() else f"# {region} schema changelog\n"
    entry = f"\n## v{version} ({dt.date.today().isoformat()}, draft: review before pinning)\n\n" + "".join(
        f"- {line}\n" for line in lines
    )
    storage.write_atomic(str(path), text.rstrip("\n") + "\n" + entry)
    return path
