"""Real SavedModels for release tests: a good model and a worse one (trained on
shuffled labels), both from 300 January EWR rows, exported by the trainer."""

import pytest


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory, flights_frame):
    import numpy as np
    import tensorflow as tf

    from driftgate.core.config import load_region_config, schema_file
    from pipelines.pipeline import trainer_custom_config
    from tests.trainer.test_task import _example
    from trainer import task

    cfg = load_region_config("EWR")
    schema = task.load_schema(str(schema_file(cfg)))
    rows = flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == 1)]
    rows = rows.sample(1200, random_state=5).drop(columns=["origin", "month"])
    out = {}
    for name, shuffle in (("good", False), ("worse", True)):
        d = tmp_path_factory.mktemp(f"data-{name}")
        frame = rows.copy()
        if shuffle:
            frame["late"] = np.random.default_rng(0).permutation(frame["late"].to_numpy())
        records = [_example(r) for r in frame.to_dict("records")]
        for split, chunk in (("train", records[:1000]), ("eval", records[1000:])):
            with tf.io.TFRecordWriter(str(d / f"{split}.gz"), options="GZIP") as w:
                for rec in chunk:
                    w.write(rec)
        conf = trainer_custom_config(cfg)
        conf["trainer"]["batch_size"] = 64
        model_dir = tmp_path_factory.mktemp(f"model-{name}") / "m"
        task.train_and_export(
            [str(d / "train.gz")], [str(d / "eval.gz")], schema, conf, str(model_dir), 80, 2
        )
        out[name] = model_dir
    out["sample"] = [
        _example({k: v for k, v in r.items() if k != "late"}) for r in rows.head(64).to_dict("records")
    ]
    return out


@pytest.fixture
def region(tmp_path, saved_models):
    """A region serving dir with versions 1 (good), 2 (good), 3 (worse) on disk, unlabelled."""
    import shutil

    serving_dir = tmp_path / "runs" / "serving" / "EWR"
    base = serving_dir / "flights_late"
    for v, name in ((1, "good"), (2, "good"), (3, "worse")):
        shutil.copytree(saved_models[name], base / str(v))
    return serving_dir
