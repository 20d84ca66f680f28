"""The digest's logic and rendering over a root as runs leave it
(``digest_root``): periods in a time zone, which runs fall in them, the
counts, "needs a person" first, Markdown sized for one Slack message, and a
self-contained HTML page that renders in headless Chromium."""

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from components.monitor import digest, digest_view
from components.monitor.periods import period_ending, run_time
from driftgate.app import digest as app
from tests.chromium import chromium, need_chromium
from tests.components.monitor import digest_root

UTC = timezone.utc
NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin: the CronJob's moment
BERLIN = "Europe/Berlin"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return digest_root.standard_root(tmp_path_factory.mktemp("digest") / "runs")


def _digest(root, tz=BERLIN, **kw):
    return app.build(str(root), period="week", timezone=tz, now=NOW, **kw)[0]


def _region(doc, name):
    return next(r for r in doc["regions"] if r["region"] == name)


def test_weeks_run_monday_to_monday_in_the_zone_across_a_clock_change():
    p = period_ending("week", BERLIN, now=NOW)
    assert (p.start.isoformat(), p.end.isoformat()) == (
        "2026-11-30T00:00:00+01:00",
        "2026-12-07T00:00:00+01:00",
    )
    assert p.start.astimezone(UTC) == datetime(2026, 11, 29, 23, tzinfo=UTC)
    assert p.previous.start.date() == date(2026, 11, 23) and p.previous.end == p.start
    # --until a date: the last whole week ended by the end of that day (Sunday 6 Dec closes this one)
    assert period_ending("week", BERLIN, until=date(2026, 12, 6)) == p
    assert period_ending("week", BERLIN, until=date(2026, 12, 5)).end.date() == date(2026, 11, 30)
    dst = period_ending("week", BERLIN, until=date(2026, 3, 29))  # clocks go forward that Sunday
    assert dst.start.astimezone(UTC).hour == 23 and dst.end.astimezone(UTC).hour == 22
    assert dst.end.astimezone(UTC) - dst.start.astimezone(UTC) == timedelta(days=7, hours=-1)
    month = period_ending("month", "America/New_York", until=date(2026, 12, 6))
    assert (month.start.date(), month.end.date(), month.label) == (
        date(2026, 11, 1),
        date(2026, 12, 1),
        "November 2026",
    )


def test_a_run_is_dated_by_its_local_run_id_else_by_the_history():
    assert run_time({"run_id": "EWR-20261201T060000Z-ab12cd", "span": 4}, {}) == datetime(
        2026, 12, 1, 6, tzinfo=UTC
    )
    hist = {4: {"recorded_at": "2026-12-02T06:00:00Z"}}
    assert run_time({"run_id": "7d3e-uuid", "span": 4}, hist) == datetime(2026, 12, 2, 6, tzinfo=UTC)
    assert run_time({"run_id": "7d3e-uuid", "span": 9}, hist) is None


def test_a_run_just_before_the_week_starts_in_the_zone_is_left_out(root):
    berlin = _region(_digest(root), "EWR")
    # span 2: Sunday 29 Nov 23:30 in Berlin (22:30 UTC): the week before; span 3: Monday 00:30 there
    assert [r["span"] for r in berlin["runs"]] == [3, 4, 5, 6]
    utc = _region(_digest(root, tz="UTC"), "EWR")
    assert [r["span"] for r in utc["runs"]] == [4, 5, 6]  # 23:30 UTC on Sunday is last week in UTC


def test_decisions_releases_and_rollbacks_are_counted(root):
    doc = _digest(root)
    ewr, jfk, lga = (_region(doc, r) for r in ("EWR", "JFK", "LGA"))
    assert ewr["decisions"] == {"retrain": 2, "skip": 1, "block": 1, "failed": 0}
    assert ewr["release_counts"] == {"pushed": 2, "promoted": 0, "rolled_back": 1, "rejected": 0}
    assert [(e["action"], e["version"]) for e in ewr["releases"]] == [
        ("canary", 2),
        ("rollback", 2),
        ("canary", 3),
    ]
    assert jfk["decisions"] == {"retrain": 0, "skip": 3, "block": 0, "failed": 1}  # dated by history.json
    assert [f["run_id"] for f in jfk["failed"]] == ["3f2a-kfp"]
    assert lga["decisions"]["skip"] == 3 and lga["pending"]["spans"] == [7]
    assert doc["totals"] == {
        "retrain": 2, "skip": 7, "block": 1, "failed": 1, "pushed": 2, "promoted": 0, "rolled_back": 1,
        "runs": 11, "alerts": 2,
    }  # fmt: skip
    assert [a["key"] for a in ewr["alerts"]] == ["driftgate/EWR/temp", "driftgate/EWR/<span>"]
    top = ewr["drift"][0]
    assert (top["feature"], top["count"], top["worst"]) == ("temp", 3, "critical")


def test_quality_this_period_against_the_one_before(root):
    q = _region(_digest(root), "JFK")["quality"]
    assert q["mean_auc"] == round((0.71 + 0.58 + 0.57) / 3, 4) and q["previous_mean_auc"] == 0.745
    assert q["change"] < -0.1 and q["latest"]["verdict"] == "degraded"
    svg = digest_view.sparkline(q["points"])
    assert svg.count("<circle") == len(q["points"]) == 5 and "#c62828" in svg and "stroke-dasharray" in svg


def test_needs_a_person_comes_first_most_urgent_first_with_report_links(root):
    needs = _digest(root)["needs_person"]
    kinds = [n["kind"] for n in needs]
    assert kinds == ["failed", "blocked", "rollback", "degraded", "canary_pending", "fairness", "integrity"]
    by_kind = {n["kind"]: n for n in needs}
    assert by_kind["blocked"]["report"] == "EWR/reports/span-5.html"
    assert by_kind["rollback"]["report"] == "EWR/reports/span-6.html"  # the run whose judge rolled it back
    assert "undecided for 17 days" in by_kind["canary_pending"]["text"]
    assert by_kind["failed"]["report"] is None and by_kind["failed"]["text"].startswith("JFK run 3f2a-kfp")


def test_markdown_puts_needs_first_and_stays_one_slack_message(root):
    doc = _digest(root)
    md = digest_view.markdown(doc, html_link="reports/digest-week-2026-11-30.html")
    lines = md.splitlines()
    first = lines.index("**Needs a person (7)**")
    assert first < lines.index("**Regions**") and lines[first + 1].startswith("- 🔴 JFK run 3f2a-kfp")
    assert "[report](EWR/reports/span-5.html)" in md and md.endswith(
        "[HTML](reports/digest-week-2026-11-30.html)\n"
    )
    slack = digest_view.markdown(doc, slack=True, link_base="https://runs.example/r")
    assert (
        "*Needs a person (7)*" in slack and "<https://runs.example/r/EWR/reports/span-5.html|report>" in slack
    )
    assert "](" not in slack and len(md) < 3000 and len(slack) < 3000
    assert "<EWR/reports" not in digest_view.markdown(
        doc, slack=True
    )  # a relative link opens nothing in Slack


def test_markdown_with_three_busy_regions_is_cut_with_more_lines(tmp_path):
    long = "temp (eval): Expected data of type: FLOAT but got STRING such as 'n/a' " * 4
    for region in ("EWR", "JFK", "LGA"):
        runs = []
        for s in range(1, 31):
            at = digest_root.MONDAY + timedelta(hours=5 * s)
            if s % 3 == 0:
                runs.append(digest_root.run(region, s, "block", at, reasons=[long]))
            else:
                q = digest_root.quality(
                    1, s, 0.7, fairness=[f"carrier=X{k}: FPR 1.5x the region's" for k in range(5)]
                )
                runs.append(digest_root.run(region, s, "skip", at, q=q, integrity=[f"dest: {s}% unseen"] * 4))
        digest_root.write_region(tmp_path, region, runs)
    doc = app.build(str(tmp_path), period="week", timezone="UTC", now=NOW)[0]
    assert len(doc["needs_person"]) == 3 * (10 + 2)
    for slack in (False, True):
        md = digest_view.markdown(doc, slack=slack, link_base="https://runs.example/r")
        assert len(md) < 3000, len(md)
        more = re.search(r"^\+(\d+) more in the HTML digest$", md, re.M)
        shown = len(re.findall(r"^(- |• )[🔴🟠🟡]", md, re.M))
        assert more and shown + int(more.group(1)) == 36 and shown >= 5
        assert all(f"{r}*" in md or f"{r}**" in md for r in ("EWR", "JFK", "LGA"))  # every region's line


def test_stream_episodes_schema_drafts_and_arrived_spans():
    period = period_ending("week", "UTC", now=NOW)
    at = (NOW - timedelta(days=2)).timestamp()
    rec = digest.RegionRecords(
        "EWR",
        history=[{"span": 4, "completed": True}, {"span": 5, "completed": False}],
        stream_sent={
            "temp@100:open:warning": {"at": at, "severity": "warning"},
            "temp@100:escalate:critical": {"at": at, "severity": "critical"},
            "temp@100:clear:critical": {"at": at},
            "dest@140:open:warning": {"at": at},
            "dest@90:open:warning": {"at": (NOW - timedelta(days=20)).timestamp()},
        },
        schema_drafts=[2],
        data_spans=[3, 4, 5, 6],
    )
    summary, needs = digest.summarise_region(rec, period, NOW)
    assert summary["stream"] == [
        {"feature": "dest", "episodes": 1, "worst": "warning"},
        {"feature": "temp", "episodes": 1, "worst": "critical"},
    ]
    assert summary["pending"] == {"spans": [5, 6], "canary": None, "schema_drafts": [2]} and needs == []


def test_html_is_self_contained_with_every_section(root):
    doc = _digest(root)
    page = digest_view.html_page(doc, lambda rel: "../" + rel)
    assert not re.search(r"(src|href)=['\"]https?://", page) and "<script" not in page
    assert "@import" not in page and "url(" not in page
    for section in (
        "id='needs-person'",
        "id='overview'",
        "id='region-EWR'",
        "id='region-JFK'",
        "id='region-LGA'",
    ):
        assert section in page
    assert page.index("id='needs-person'") < page.index("id='overview'")
    assert "href='../EWR/reports/span-5.html'" in page and page.count("<svg") >= 6


@need_chromium
def test_digest_renders_in_headless_chromium(tmp_path, root):
    from PIL import Image, ImageStat

    page = tmp_path / "digest.html"
    page.write_text(digest_view.html_page(_digest(root)))
    shot = tmp_path / "shot.png"
    run = chromium(page.as_uri(), tmp_path / "profile", "--window-size=1200,1400", f"--screenshot={shot}")
    assert shot.is_file(), run.stderr[-2000:]
    img = Image.open(shot).convert("L")
    assert img.size == (1200, 1400) and ImageStat.Stat(img).stddev[0] > 10  # not a blank page
    dom = chromium(page.as_uri(), tmp_path / "profile2", "--dump-dom").stdout
    for section in ('id="needs-person"', 'id="overview-table"', 'id="region-EWR"', "<polyline"):
        assert section in dom
