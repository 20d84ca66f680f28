"""A small generated data set, set up through configuration alone (its own
config folder and schema), for backtests that train real models."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REGION = "north"


def _span(rng, n: int, shift: float, weight: float) -> pd.DataFrame:
    price = rng.normal(10 + shift, 2.0, n)
    hour = rng.integers(8, 20, n)
    segment = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    logit = weight * (price - 10 - shift) / 2.0 + np.where(segment == "a", 0.5, -0.5) + 0.1 * (hour - 14)
    bought = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"price": price.round(2), "hour": hour, "segment": segment, "bought": bought})


def make_dataset(base: Path, shifted: bool, spans: int = 5, rows: int = 2500, seed: int = 7) -> dict:
    """Spans of one region; with ``shifted``, from span 3 on the price moves up
    by two standard deviations and its effect on the label reverses."""
    rng = np.random.default_rng(seed)
    data = base / "data"
    for s in range(1, spans + 1):
        late = shifted and s >= 3
        frame = _span(rng, rows, shift=4.0 if late else 0.0, weight=-1.5 if late else 1.5)
        (data / REGION / f"span-{s}").mkdir(parents=True, exist_ok=True)
        frame.to_csv(data / REGION / f"span-{s}" / "rows.csv", index=False)
    defaults = yaml.safe_load((ROOT / "pipelines" / "regions" / "defaults.yaml").read_text())
    defaults["data"]["location"] = str(data / "{region}")
    defaults["features"] = {"label": "bought", "categorical": ["segment"], "numeric": ["price", "hour"]}
    defaults["trainer"].update(train_steps=60, eval_steps=5, batch_size=64)
    defaults["evaluation"].update(min_auc=0.5, min_accuracy=0.3)
    defaults["serving"]["model_name"] = "bought"
    config = base / "config"
    config.mkdir()
    (config / "defaults.yaml").write_text(yaml.safe_dump(defaults))
    (config / f"{REGION}.yaml").write_text(f"region: {REGION}\nschema: {{version: 1}}\n")
    schemas = base / "schemas"
    _write_schema(config, schemas, data / REGION / "span-1" / "rows.csv")
    return {"data": data, "config": config, "schemas": schemas}


def _write_schema(config: Path, schemas: Path, csv: Path) -> None:
    import tensorflow_data_validation as tfdv

    from driftgate.app.schema_workflow import infer
    from driftgate.core.config import load_region_config
    from pipelines.schema_store import dumps

    cfg = load_region_config(REGION, config)
    schema = infer(tfdv.generate_statistics_from_csv(str(csv)), cfg)
    (schemas / REGION / "v1").mkdir(parents=True)
    (schemas / REGION / "v1" / "schema.pbtxt").write_text(dumps(schema))


@pytest.fixture(scope="session")
def shifted_data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("bt-shift"), shifted=True)


@pytest.fixture(scope="session")
def steady_data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("bt-steady"), shifted=False)
