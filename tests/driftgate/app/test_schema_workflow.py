"""Versioned schemas: committed ones validate, released ones never change, bad
edits give clear errors, and propose/check-span work on real spans."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from driftgate.app import schema_workflow
from driftgate.core.config import available_regions, load_region_config
from pipelines import schema_store

ROOT = Path(__file__).resolve().parents[3]
EWR_V1 = schema_store.version_path("EWR", 1)


@pytest.mark.parametrize("region", available_regions())
def test_every_committed_version_validates(region):
    cfg = load_region_config(region)
    assert schema_store.versions(region), f"no schema for {region}"
    for v in schema_store.versions(region):
        schema_workflow.validate_file(schema_store.version_path(region, v), cfg)
    assert (schema_store.schemas_root() / region / "CHANGELOG.md").is_file()


def test_released_versions_are_unchanged_and_pinned_ones_released():
    table = schema_store.released()
    for key, sha in table.items():
        region, v = key.split("/v")
        path = schema_store.version_path(region, int(v))
        assert (
            schema_store.digest(path) == sha
        ), f"{path} was released and then edited: restore it and make the change a new version"
    for region in available_regions():
        assert f"{region}/v{load_region_config(region).schema.version}" in table


def _git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(_git("rev-parse", "--git-dir").returncode != 0, reason="not a git checkout")
def test_every_version_pinned_in_git_history_is_released():
    table = schema_store.released()
    commits = _git("log", "--format=%H", "--", "pipelines/regions").stdout.split()
    assert commits, "no history for pipelines/regions"
    checked = 0
    for sha in commits:
        defaults = yaml.safe_load(_git("show", f"{sha}:pipelines/regions/defaults.yaml").stdout or "{}") or {}
        for region in available_regions():
            shown = _git("show", f"{sha}:pipelines/regions/{region}.yaml")
            if shown.returncode != 0:
                continue
            data = yaml.safe_load(shown.stdout) or {}
            version = (data.get("schema") or defaults.get("schema") or {}).get("version")
            if version is not None:
                assert (
                    f"{region}/v{version}" in table
                ), f"{region} v{version} was pinned in {sha[:8]} but is not released"
                checked += 1
    assert checked >= len(available_regions())


def test_editing_a_released_version_is_refused(tmp_path):
    sdir = tmp_path / "schemas"
    shutil.copytree(schema_store.schemas_root(), sdir)
    path = schema_store.version_path("EWR", 1, sdir)
    path.write_text(path.read_text().replace("min_domain_mass: 0.98", "min_domain_mass: 0.9"))
    with pytest.raises(schema_store.SchemaError, match="was released and has been edited"):
        schema_workflow.release("EWR", 1, sdir)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace('name: "temp"', 'name: "temp"\n  bogus {', 1), r"schema.pbtxt:\d+:\d+"),
        (
            lambda t: t.replace("type: FLOAT", "type: DOUBLE", 1),
            r"no value named DOUBLE\. \(feature types are INT, FLOAT",
        ),
        (
            lambda t: t.replace("min: -40.0", "min: 140.0", 1),
            r"feature 'temp': float_domain min 140.0 > max 130.0",
        ),
        (
            lambda t: t.replace('  not_in_environment: "SERVING"\n', "", 1),
            r"'late' is the label but is in the SERVING",
        ),
        (lambda t: t.replace("min_fraction: 0.9\n", "min_fraction: 1.5\n", 1), r"presence.min_fraction 1.5"),
        (
            lambda t: t.replace('name: "distance"', 'name: "distance_km"', 1),
            r"'distance' is configured .* missing",
        ),
    ],
    ids=["syntax", "unknown-type", "contradictory-domain", "label-in-serving", "presence", "missing-feature"],
)
def test_bad_edits_give_clear_errors(tmp_path, edit, message):
    bad = tmp_path / "schema.pbtxt"
    text = EWR_V1.read_text()
    changed = edit(text)
    assert changed != text
    bad.write_text(changed)
    with pytest.raises(schema_store.SchemaError, match=message) as err:
        schema_workflow.validate_file(bad, load_region_config("EWR"))
    assert str(bad) in str(err.value)


def test_semantic_diff_names_what_changed():
    a = schema_store.load(EWR_V1)
    b = schema_store.parse(EWR_V1.read_text(), "b")
    temp = next(f for f in b.feature if f.name == "temp")
    temp.float_domain.max = 140
    carrier = next(f for f in b.feature if f.name == "carrier")
    b.feature.remove(next(f for f in b.feature if f.name == "visib"))
    dom = next(d for d in b.string_domain if d.name == carrier.domain)
    dom.value.append("ZZ")
    out = schema_workflow.diff(a, b)
    assert "- feature visib" in out
    assert "~ carrier: domain values added: ZZ" in out
    assert any(line.startswith("~ temp: range [-40.0, 130.0] -> [-40.0, 140.0]") for line in out)
    assert schema_workflow.diff(a, a) == []


def test_summary_lists_every_feature_with_environment():
    text = schema_workflow.summary(schema_store.load(EWR_V1))
    assert "late" in text and "TRAINING" in text
    late = next(line for line in text.splitlines() if line.startswith("late"))
    assert "SERVING" not in late


@pytest.fixture(scope="module")
def odd_span(tmp_path_factory, small_spans):
    """EWR span 1 with new destinations and a hotter day than the schema allows."""
    import pandas as pd

    d = tmp_path_factory.mktemp("odd")
    df = pd.read_csv(small_spans / "EWR" / "span-1" / "data.csv")
    df.loc[df.index[:30], "dest"] = "XNA2"
    df.loc[df.index[30:32], "temp"] = 135.5
    (d / "good.csv").write_text(df.to_csv(index=False))
    bad = df.copy()
    bad["distance"] = bad["distance"].astype(str)
    bad.loc[bad.index[:5], "distance"] = "far"
    (d / "corrupt.csv").write_text(bad.to_csv(index=False))
    return d


def test_propose_accepts_the_span_and_still_rejects_a_corrupted_one(odd_span):
    base = schema_store.load(EWR_V1)
    stats = schema_workflow.span_csv_statistics([str(odd_span / "good.csv")], base)
    before = schema_workflow.check(stats, base)
    assert {f.feature for f in before} == {"dest", "temp"}
    proposal = schema_workflow.propose(stats, base)
    assert proposal.not_fixed == []
    assert any("dest: add domain values XNA2" in c for c in proposal.changes)
    assert any(c.startswith("temp: max 130.0 -> 135.5") for c in proposal.changes)
    assert schema_workflow.check(stats, proposal.schema) == []
    assert schema_workflow.problems(proposal.schema, load_region_config("EWR")) == []
    corrupt = schema_workflow.span_csv_statistics([str(odd_span / "corrupt.csv")], proposal.schema)
    assert "distance" in {f.feature for f in schema_workflow.check(corrupt, proposal.schema)}
    assert [
        line for line in schema_workflow.diff(base, proposal.schema) if "range" in line or "added" in line
    ]


def test_cli_propose_writes_next_version_and_changelog(tmp_path, small_spans):
    import os
    import sys

    sdir = tmp_path / "schemas"
    shutil.copytree(schema_store.schemas_root(), sdir)
    data = tmp_path / "data"
    shutil.copytree(small_spans, data)
    csv = data / "EWR" / "span-2" / "data.csv"
    csv.write_text(csv.read_text().replace(",IAH,", ",QQQ,"))

    def run(*args):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "driftgate",
                "schema",
                *args,
                "--region",
                "EWR",
                "--schemas",
                str(sdir),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ),
        )

    fails = run("check-span", "--span", "2", "--data", str(data))
    assert fails.returncode == 3 and "dest" in fails.stdout
    prop = run("propose", "--span", "2", "--data", str(data))
    assert prop.returncode == 0, prop.stderr
    assert (sdir / "EWR" / "v2" / "schema.pbtxt").is_file()
    assert "## v2" in (sdir / "EWR" / "CHANGELOG.md").read_text()
    passes = run("check-span", "--span", "2", "--version", "v2", "--data", str(data))
    assert passes.returncode == 0 and "passes schema v2" in passes.stdout
    diff = run("diff", "1", "2")
    assert "~ dest: domain values added: QQQ" in diff.stdout
    again = run("propose", "--span", "2", "--data", str(data))  # v3 would be written, never v2 again
    assert again.returncode == 0 and (sdir / "EWR" / "v3").is_dir()
