"""``driftgate demo-kafka --land-only``: the newcomer's Kafka path starts its
own broker, replays flights months as events and lands them; every sealed
span holds exactly its month's rows. (The pipeline runs on landed spans are
covered by tests/e2e/test_land_pipeline.py.)"""

import csv
import json
import os

from click.testing import CliRunner

from driftgate.cli.main import cli


def _rows(folder):
    n = 0
    for name in os.listdir(folder):
        if name.endswith(".csv"):
            with open(os.path.join(folder, name), newline="") as fh:
                n += sum(1 for _ in csv.reader(fh)) - 1
    return n


def test_the_demo_lands_each_month_as_one_sealed_span(tmp_path):
    res = CliRunner().invoke(
        cli,
        [
            "demo-kafka",
            "--region",
            "EWR",
            "--months",
            "1,2",
            "--out",
            str(tmp_path),
            "--land-only",
            "-o",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)  # progress went to stderr
    assert out["land"]["sealed"] == [516, 517] and out["runs"] == []
    for month, span in ((1, 516), (2, 517)):
        assert _rows(tmp_path / "landed" / "EWR" / f"span-{span}") == _rows(
            tmp_path / "csv" / "EWR" / f"span-{month}"
        )
        assert (tmp_path / "landed" / "EWR" / f"span-{span}" / "_SUCCESS").exists()
    assert not (tmp_path / "landed" / "EWR" / "span-518" / "_SUCCESS").exists()  # March has begun, not ended
