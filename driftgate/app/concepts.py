"""A generated data set with known answers: the gate's exam.

One region (``GEN``), one span a month. Every span carries **harmless
covariate drift**: ``noise_a``, ``noise_b`` and ``channel`` jump to new
distributions each month, but the label never depends on them. At the
**concept changes** (the months in ``CONCEPTS``) the label's dependence on the
other features changes, while their distributions stay put: a stale model's
ranking breaks, and no input-drift test can see it. A good gate retrains
within one span of each concept change and never for the harmless drift.

``write`` produces everything a user of another data set would write: one raw
CSV with a region and a time column, split into spans by the same code as any
CSV (``datasets.split_csv``), a region config folder and a schema, plus
``answers.json`` (the concept-change spans). Only pandas and numpy here.

    driftgate data concepts --out DIR
    driftgate backtest --data DIR/data --config-dir DIR/regions --schemas DIR/schemas
"""

from __future__ import annotations

import json
import os
from typing import Dict, List

import numpy as np
import pandas as pd

from driftgate.app.datasets import SpanSummary, split_csv

REGION = "GEN"
SPANS = 9
# month -> concept: the label's dependence changes at months 4 and 6 (not on a
# calendar beat: every-2 and every-3 each miss one)
CONCEPTS = {1: "a", 2: "a", 3: "a", 4: "b", 5: "b", 6: "c", 7: "c", 8: "c", 9: "c"}
SIGNAL = ("x1", "x2", "x3")  # the label depends on these (and on segment); distributions never move
NOISE = ("noise_a", "noise_b")  # numeric, harmless: move every span, the label ignores them
CATEGORICAL = ("segment", "channel")  # segment: part of the concept; channel: harmless drift
LABEL = "converted"


def _logit(concept: str, x1, x2, x3, segment) -> np.ndarray:
    if concept == "a":
        return 1.6 * x1 + 0.8 * x2 + 0.9 * (segment == "s1") - 0.3
    if concept == "b":  # x1's effect reverses, x3 takes x2's place
        return -1.6 * x1 + 0.8 * x3 + 0.9 * (segment == "s2") - 0.3
    return 1.4 * x2 - 1.2 * x3 + 0.9 * (segment == "s3") - 0.3  # "c"


def frame(rows_per_span: int = 2400, seed: int = 7) -> pd.DataFrame:
    """The raw table: ``site``, ``day`` (a date in the span's month), the
    features and the label."""
    rng = np.random.default_rng(seed)
    parts = []
    for month in range(1, SPANS + 1):
        n = rows_per_span
        x1, x2, x3 = (rng.normal(0, 1, n) for _ in SIGNAL)
        segment = rng.choice(["s1", "s2", "s3", "s4"], n, p=[0.3, 0.3, 0.2, 0.2])
        # harmless covariate drift: a new location, scale and mix every span
        noise_a = rng.normal(rng.uniform(-1.5, 1.5), 1.0, n)
        noise_b = rng.lognormal(rng.uniform(-0.5, 0.5), rng.uniform(0.4, 0.9), n)
        mix = rng.dirichlet([2.0, 2.0, 2.0])
        channel = rng.choice(["web", "app", "store"], n, p=mix)
        p = 1 / (1 + np.exp(-_logit(CONCEPTS[month], x1, x2, x3, segment)))
        days = rng.integers(1, 29, n)
        parts.append(
            pd.DataFrame(
                {
                    "site": REGION,
                    "day": [f"2025-{month:02d}-{d:02d}" for d in days],
                    "x1": x1.round(4),
                    "x2": x2.round(4),
                    "x3": x3.round(4),
                    "noise_a": noise_a.round(4),
                    "noise_b": noise_b.round(4),
                    "segment": segment,
                    "channel": channel,
                    LABEL: (rng.random(n) < p).astype("int64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def changes() -> List[int]:
    """The spans where the concept changes (the answers)."""
    return [s for s in range(2, SPANS + 1) if CONCEPTS[s] != CONCEPTS[s - 1]]


REGION_YAML = f"""\
# The generated data set with known answers (driftgate data concepts).
# Only what differs from the project's defaults.yaml.
region: {REGION}
schema: {{version: 1}}
features:
  label: {LABEL}
  categorical: [{", ".join(CATEGORICAL)}]
  numeric: [{", ".join(SIGNAL + NOISE)}]
trainer:
  train_steps: 200
  hidden_units: [16, 8]
serving:
  model_name: gen_converted
"""


def schema_text() -> str:
    """The region's schema (what ``tfdv.infer_schema`` gives, reviewed: the
    label only in TRAINING)."""
    shape = "  shape {\n    dim {\n      size: 1\n    }\n  }\n"
    presence = "  presence {\n    min_fraction: 1.0\n    min_count: 1\n  }\n"
    out = [f"# driftgate schema for the generated region {REGION}, version 1 (driftgate data concepts)."]
    for name in SIGNAL + NOISE:
        out.append(f'feature {{\n  name: "{name}"\n  type: FLOAT\n{presence}{shape}}}')
    for name in CATEGORICAL:
        out.append(f'feature {{\n  name: "{name}"\n  type: BYTES\n{presence}{shape}}}')
    out.append(
        f'feature {{\n  name: "{LABEL}"\n  type: INT\n  int_domain {{\n    min: 0\n    max: 1\n'
        f'    is_categorical: true\n  }}\n{presence}  not_in_environment: "SERVING"\n{shape}}}'
    )
    out.append('default_environment: "TRAINING"\ndefault_environment: "SERVING"')
    return "\n".join(out) + "\n"


def write(out: str, rows_per_span: int = 2400, seed: int = 7) -> Dict[str, object]:
    """Writes ``out/raw.csv``, ``out/data/GEN/span-<N>/``, ``out/regions/GEN.yaml``,
    ``out/schemas/GEN/v1/schema.pbtxt`` and ``out/answers.json``."""
    os.makedirs(out, exist_ok=True)
    raw = os.path.join(out, "raw.csv")
    frame(rows_per_span, seed).to_csv(raw, index=False)
    summary: SpanSummary = split_csv(raw, "site", "day", os.path.join(out, "data"), freq="month")
    os.makedirs(os.path.join(out, "regions"), exist_ok=True)
    with open(os.path.join(out, "regions", f"{REGION}.yaml"), "w") as fh:
        fh.write(REGION_YAML)
    schema_dir = os.path.join(out, "schemas", REGION, "v1")
    os.makedirs(schema_dir, exist_ok=True)
    with open(os.path.join(schema_dir, "schema.pbtxt"), "w") as fh:
        fh.write(schema_text())
    answers = {
        "region": REGION,
        "spans": SPANS,
        "concept_changes": changes(),
        "harmless": list(NOISE) + ["channel"],
    }
    with open(os.path.join(out, "answers.json"), "w") as fh:
        json.dump(answers, fh, indent=1)
    return {"summary": summary, "answers": answers}
