"""The digest use case: reading a root (only the files a period needs),
links from wherever the page is written, one digest setting for every
region, and sending through the alert channels' Slack webhook."""

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from driftgate.app import digest as app
from driftgate.core.config import load_region_config
from driftgate.core.strict import ConfigError
from tests.components.monitor import digest_root
from tests.components.monitor.test_alerts import receiver  # noqa: F401 - the fixture

UTC = timezone.utc
NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return digest_root.standard_root(tmp_path_factory.mktemp("digest") / "runs")


def test_regions_are_the_folders_with_results_or_state(root):
    (root / "metrics").mkdir(exist_ok=True)
    (root / "notes.txt").write_text("not a region")
    (root / "scratch").mkdir(exist_ok=True)
    assert app.region_names(str(root)) == ["EWR", "JFK", "LGA"]


def test_only_results_the_periods_can_need_are_read(tmp_path):
    old = digest_root.MONDAY - timedelta(days=90)
    runs = [digest_root.run("EWR", s, "skip", old + timedelta(days=s)) for s in (1, 2, 3)]
    runs.append(digest_root.run("EWR", 4, "skip", digest_root.MONDAY + timedelta(days=1)))
    recorded = {1: old, 2: old, 3: old + timedelta(days=3), 4: digest_root.MONDAY + timedelta(days=1)}
    digest_root.write_region(tmp_path, "EWR", runs, recorded=recorded)
    rec = app.read_region(str(tmp_path), "EWR", digest_root.MONDAY - timedelta(days=8))
    assert [r["span"] for r in rec.results] == [4]
    assert rec.reports[2] == "EWR/reports/span-2.html"
    (tmp_path / "EWR" / "state" / "history.json").write_text("[]")  # no dates: every result is read
    assert len(app.read_region(str(tmp_path), "EWR", NOW).results) == 4


def test_links_are_relative_to_where_the_page_is_written(tmp_path):
    root = str(tmp_path / "runs")
    inside = app.href_from(f"{root}/reports/digest-week-2026-11-30.html", root)
    assert inside("EWR/reports/span-5.html") == "../EWR/reports/span-5.html"
    elsewhere = app.href_from(str(tmp_path / "out" / "d.html"), root)
    assert elsewhere("EWR/reports/span-5.html") == "../runs/EWR/reports/span-5.html"
    bucket = app.href_from("gs://b/runs/reports/d.html", "gs://b/runs")
    assert bucket("EWR/reports/span-5.html") == "../EWR/reports/span-5.html"
    assert app.href_from(str(tmp_path / "d.html"), "gs://b/runs")("x.html") == "gs://b/runs/x.html"


def test_the_default_page_lands_in_the_roots_reports(root):
    doc, period = app.build(str(root), period="week", timezone="Europe/Berlin", now=NOW)
    out = app.write_html(doc, str(root), app.default_out(str(root), period))
    assert out == str(root / "reports" / "digest-week-2026-11-30.html")
    assert (
        "href='../EWR/reports/span-5.html'" in (root / "reports" / "digest-week-2026-11-30.html").read_text()
    )


def test_regions_must_agree_on_the_digest_settings():
    ewr, jfk = load_region_config("EWR"), load_region_config("JFK")
    assert app.settings([ewr, jfk]).timezone == "UTC" and app.settings([]).cron == "0 8 * * 1"
    other = dataclasses.replace(jfk, digest=dataclasses.replace(jfk.digest, timezone="Europe/Berlin"))
    with pytest.raises(ConfigError, match="set digest in defaults.yaml"):
        app.settings([ewr, other])


def test_a_bad_time_zone_in_the_config_is_refused(tmp_path):
    import shutil

    from driftgate.core.config import REGIONS_DIR

    shutil.copy(REGIONS_DIR / "EWR.yaml", tmp_path / "EWR.yaml")
    text = (REGIONS_DIR / "defaults.yaml").read_text().replace("timezone: UTC ", "timezone: Mars/Olympus ")
    (tmp_path / "defaults.yaml").write_text(text)
    with pytest.raises(ConfigError, match="digest: timezone 'Mars/Olympus' is not an IANA time zone"):
        load_region_config("EWR", tmp_path)


def test_unknown_regions_and_empty_roots_say_what_is_there(root, tmp_path):
    with pytest.raises(app.DigestError, match="no region SFO here; found EWR, JFK, LGA"):
        app.build(str(root), regions=["SFO"], now=NOW)
    with pytest.raises(app.DigestError, match="no region has results"):
        app.build(str(tmp_path), now=NOW)


def test_send_posts_one_slack_message_through_the_alerts_webhook(receiver, tmp_path):  # noqa: F811
    url, got, codes = receiver
    hook = tmp_path / "slack-webhook-url"
    hook.write_text(f"{url}/hook/T0KEN\n")
    app.send("*driftgate digest*\nline", {"DRIFTGATE_SLACK_WEBHOOK_URL_FILE": str(hook)}, backoff=0.01)
    ((path, body, _),) = got
    assert path == "/hook/T0KEN" and body["text"] == "*driftgate digest*\nline"
    assert body["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}]
    codes += [500, 500, 500]
    with pytest.raises(app.DigestError) as failed:
        app.send("x", {"DRIFTGATE_SLACK_WEBHOOK_URL": f"{url}/hook/T0KEN"}, retries=2, backoff=0.01)
    assert "failed after 3 attempts (HTTP 500)" in str(failed.value) and "T0KEN" not in str(failed.value)
    with pytest.raises(app.DigestError, match="no Slack webhook"):
        app.send("x", {})
    assert len(got) == 4 and json.dumps(got[0][1])
