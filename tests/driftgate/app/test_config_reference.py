"""The configuration reference page is what the code generates."""

from pathlib import Path

from driftgate.app import config_reference

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_reference_is_what_the_config_dataclasses_generate():
    page = ROOT / "docs" / "configuration-reference.md"
    assert (
        page.read_text() == config_reference.reference()
    ), "the config changed: run `driftgate config reference > docs/configuration-reference.md`"


def test_every_key_a_region_may_set_is_listed_with_its_default_and_meaning():
    from driftgate.core.config import load_region_config

    text = config_reference.reference()
    cfg = load_region_config("EWR")
    assert '| `data.location` | str |  | `"demo/data/{region}"` | Folder holding the region\'s spans.' in text
    assert "| `drift.retrain_on` | str | `warning` \\| `critical` |" in text
    assert f"`{cfg.trainer.train_steps}`" in text  # defaults read from defaults.yaml
    assert "source_file" not in text  # filled by the loader, never set


def test_field_comments_come_from_the_lines_above_a_field():
    from driftgate.core.config_pipeline import DataConfig

    notes = config_reference.field_comments(DataConfig)
    assert notes["span_pattern"].startswith("Glob of one span's files below")
    assert "eval_buckets" not in notes  # no comment of its own
