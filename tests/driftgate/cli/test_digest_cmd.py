"""``driftgate digest`` as users call it (click's CliRunner): the JSON
document's schema, Markdown and table output, the HTML page it writes, and
``--send`` to a Slack receiver on loopback without the webhook URL ever shown."""

import json

import jsonschema
import pytest
from click.testing import CliRunner

from driftgate.app.digest import DigestError
from driftgate.cli.digest import digest_cmd
from tests.components.monitor import digest_root
from tests.components.monitor.test_alerts import receiver  # noqa: F401 - the fixture

WEEK = ["--until", "2026-12-06", "--timezone", "Europe/Berlin"]  # the week of 30 Nov 2026 in Berlin

_count = {"type": "integer", "minimum": 0}
_str_or_null = {"type": ["string", "null"]}
_item = {
    "type": "object",
    "required": ["kind", "region", "text", "span", "report", "at"],
    "properties": {
        "kind": {
            "enum": [
                "failed",
                "blocked",
                "rejected",
                "rollback",
                "degraded",
                "canary_pending",
                "fairness",
                "integrity",
            ]
        },
        "region": {"type": "string"},
        "text": {"type": "string", "maxLength": 200},
        "span": {"type": ["integer", "null"]},
        "report": _str_or_null,
        "at": _str_or_null,
    },
}
_period = {
    "type": "object",
    "required": ["kind", "label", "timezone", "start", "end"],
    "properties": {"kind": {"enum": ["week", "month"]}, "start": {"type": "string", "format": "date-time"}},
}
_region = {
    "type": "object",
    "required": [
        "region", "runs", "undated_runs", "decisions", "releases", "release_counts", "serving", "quality",
        "drift", "findings", "alerts", "stream", "failed", "pending",
    ],
    "properties": {
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["span", "decision", "at", "run_id", "summary", "report", "canary"],
                "properties": {"decision": {"enum": ["retrain", "skip", "block", "failed"]}},
            },
        },
        "decisions": {
            "type": "object",
            "required": ["retrain", "skip", "block", "failed"],
            "additionalProperties": _count,
        },
        "release_counts": {
            "type": "object",
            "required": ["pushed", "promoted", "rolled_back", "rejected"],
            "additionalProperties": _count,
        },
        "quality": {
            "type": "object",
            "required": ["points", "mean_auc", "previous_mean_auc", "change", "latest"],
            "properties": {
                "points": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["span", "version", "auc", "verdict", "at", "current"],
                        "properties": {"auc": {"type": "number", "minimum": 0, "maximum": 1}},
                    },
                },
                "mean_auc": {"type": ["number", "null"]},
            },
        },
        "drift": {
            "type": "array",
            "items": {"type": "object", "required": ["feature", "count", "spans", "worst"]},
        },
        "findings": {"type": "object", "required": ["fairness", "integrity"]},
        "pending": {"type": "object", "required": ["spans", "canary", "schema_drafts"]},
    },
}  # fmt: skip
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "schema_version",
        "period",
        "generated_at",
        "in_progress",
        "needs_person",
        "totals",
        "regions",
    ],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "period": dict(_period, properties=dict(_period["properties"], previous=_period)),
        "generated_at": {"type": "string"},
        "in_progress": {"type": "boolean"},
        "needs_person": {"type": "array", "items": _item},
        "totals": {
            "type": "object",
            "required": [
                "runs",
                "retrain",
                "skip",
                "block",
                "failed",
                "pushed",
                "promoted",
                "rolled_back",
                "alerts",
            ],
            "additionalProperties": _count,
        },
        "regions": {"type": "array", "items": _region},
    },
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return digest_root.standard_root(tmp_path_factory.mktemp("digest") / "runs")


def _digest(root, *args, env=None):
    return CliRunner().invoke(digest_cmd, ["--root", str(root), *WEEK, *args], env=env or {})


def test_json_follows_its_schema_and_the_page_is_written(root):
    res = _digest(root, "-o", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["period"]["label"] == "week of 30 Nov 2026" and doc["period"]["timezone"] == "Europe/Berlin"
    assert [r["region"] for r in doc["regions"]] == ["EWR", "JFK", "LGA"]
    page = root / "reports" / "digest-week-2026-11-30.html"
    assert page.is_file() and f"html: {page}" in res.stderr


def test_markdown_and_table_put_needs_a_person_first(root):
    out = root.parent / "digest.html"
    md = _digest(root, "-o", "markdown", "--out", str(out), "--regions", "EWR,JFK")
    assert md.exit_code == 0, md.output
    assert (
        md.stdout.index("**Needs a person (7)**") < md.stdout.index("**Regions**") and "LGA" not in md.stdout
    )
    assert "[report](EWR/reports/span-5.html)" in md.stdout and out.is_file()
    assert "href='runs/EWR/reports/span-5.html'" in out.read_text()
    table = _digest(root)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["region", "runs", "retrain"] and lines[2].split()[:5] == [
        "EWR",
        "4",
        "2",
        "1",
        "1",
    ]
    assert "needs a person (7):" in lines and "  EWR span 5 blocked" in table.stdout


def test_send_posts_the_slack_markdown_and_never_shows_the_url(root, receiver):  # noqa: F811
    url, got, _ = receiver
    hook = f"{url}/services/T000/B000/S3CRET"
    res = _digest(
        root, "--send", "--link-base", "https://runs.example/r", env={"DRIFTGATE_SLACK_WEBHOOK_URL": hook}
    )
    assert res.exit_code == 0, res.output
    ((path, body, _),) = got
    assert path == "/services/T000/B000/S3CRET"
    text = body["text"]
    assert text.startswith("*driftgate digest: week of 30 Nov 2026*") and len(text) < 3000
    assert "<https://runs.example/r/EWR/reports/span-5.html|report>" in text
    assert "<https://runs.example/r/reports/digest-week-2026-11-30.html|HTML>" in text
    assert "S3CRET" not in res.output and url not in res.output and "sent to Slack" in res.stderr


def test_send_without_a_webhook_fails_and_says_which_variable(root):
    res = _digest(
        root, "--send", env={"DRIFTGATE_SLACK_WEBHOOK_URL": "", "DRIFTGATE_SLACK_WEBHOOK_URL_FILE": ""}
    )
    assert res.exit_code == 1 and isinstance(res.exception, DigestError)
    assert "DRIFTGATE_SLACK_WEBHOOK_URL" in str(res.exception)


def test_a_time_zone_that_is_not_one_is_a_usage_error(root):
    res = CliRunner().invoke(digest_cmd, ["--root", str(root), "--timezone", "Mars/Olympus"])
    assert res.exit_code == 2 and "not an IANA time zone" in res.output
