"""HTML reports: self-contained, with the key sections and the drift plots."""

import html
import re

import numpy as np
import pandas as pd

from components.monitor import report
from tests.chromium import chromium, need_chromium


def _result(decision="retrain"):
    tests = {"ks": {"score": 0.31, "verdict": "critical", "warning": 0.1, "critical": 0.2}}
    return {
        "region": "EWR",
        "span": 3,
        "rows": 10015,
        "decision": decision,
        "schema_version": "v1",
        "reasons": ["drift critical vs training baseline (span 2) on temp"],
        "anomalies": [{"feature": "dest", "split": "train", "blocking": False, "description": "new <value>"}],
        "metrics": {"auc": 0.77, "binary_accuracy": 0.75},
        "blessed": True,
        "pushed_version": 3,
        "release_label": "canary",
        "baseline_version": 2,
        "serving_dir": "/s",
        "drift": {  # the span gate's report, as results/span-<N>.json holds it
            "span": 3,
            "decision": decision,
            "rows": {"train": 7500, "eval": 2515},
            "drift": {
                "training": {
                    "baseline": "training",
                    "span": 2,
                    "severity": "critical",
                    "drifted": ["temp"],
                    "features": {
                        "temp": {
                            "kind": "numeric",
                            "count_baseline": 5000.0,
                            "count_current": 5000.0,
                            "severity": "critical",
                            "tests": tests,
                        }
                    },
                }
            },
            "gradual": [],
        },
    }


def test_run_report_has_every_section_and_no_network_assets(summary_of):
    rng = np.random.default_rng(0)
    b = summary_of(pd.DataFrame({"temp": rng.normal(40, 5, 3000), "carrier": rng.choice(list("ABC"), 3000)}))
    c = summary_of(pd.DataFrame({"temp": rng.normal(55, 5, 3000), "carrier": rng.choice(list("ABD"), 3000)}))
    page = report.run_report(
        _result(),
        {"temp": (b["temp"], c["temp"]), "carrier": (b["carrier"], c["carrier"])},
        {"stable": 2, "canary": 3},
    )
    for section in (
        "id='decision'",
        "id='why'",
        "id='drift-training'",
        "id='plots'",
        "id='anomalies'",
        "id='evaluation'",
        "id='serving'",
    ):
        assert section in page
    assert page.count("<svg") == 2 and "<polyline" in page and "<rect" in page
    assert not re.search(r"(src|href)=['\"]https?://", page)
    assert "new &lt;value&gt;" in page  # escaped
    assert "RETRAIN" in page and "stable v2, canary v3" in page


def test_feature_whose_type_changed_is_listed_but_not_plotted(summary_of):
    rng = np.random.default_rng(2)
    b = summary_of(pd.DataFrame({"temp": rng.normal(40, 5, 500)}))
    c = summary_of(pd.DataFrame({"temp": ["n/a"] * 500}))
    page = report.run_report(_result("block"), {"temp": (b["temp"], c["temp"])})
    assert "BLOCK" in page and "<svg" not in page


def test_summary_report_shows_decisions_and_heat_map():
    results = [_result(), dict(_result("skip"), span=4), dict(_result("block"), region="JFK")]
    page = report.summary_report(results)
    assert "id='timeline'" in page and "id='heatmap'" in page
    assert page.count("<tr>") >= 5 and ">skip<" in page and ">block<" in page


@need_chromium
def test_report_renders_in_headless_chromium(tmp_path, summary_of):
    from PIL import Image, ImageStat

    rng = np.random.default_rng(1)
    b = summary_of(pd.DataFrame({"temp": rng.normal(40, 5, 3000)}))
    c = summary_of(pd.DataFrame({"temp": rng.normal(55, 5, 3000)}))
    page = tmp_path / "span-3.html"
    page.write_text(
        report.run_report(_result(), {"temp": (b["temp"], c["temp"])}, {"stable": 2, "canary": 3})
    )
    shot = tmp_path / "shot.png"
    dump = chromium(page.as_uri(), tmp_path / "profile", "--window-size=1200,1400", f"--screenshot={shot}")
    assert shot.is_file(), dump.stderr[-2000:]
    img = Image.open(shot).convert("L")
    assert img.size == (1200, 1400)
    stat = ImageStat.Stat(img)
    assert stat.stddev[0] > 10  # not a blank page
    dom = chromium(page.as_uri(), tmp_path / "profile2", "--dump-dom").stdout
    for section in ('id="decision"', 'id="why"', 'id="drift-training"', 'id="plots"', 'id="evaluation"'):
        assert section in dom


PYTHON_SPELLING = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|\bnan\b|vNone|\[\]")


def _visible(page: str) -> str:
    """The page's text as a reader sees it (tags and the style sheet dropped)."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def test_first_model_report_speaks_words_not_python_values():
    """EWR span 1 of ``make demo``: no canary, no baseline, a NaN precision."""
    first = dict(
        _result(),
        span=1,
        blessed=True,
        pushed_version=1,
        release_label="stable",
        baseline_version=None,
        run_id=None,
        metrics={"auc": 0.61, "precision": float("nan"), "example_count": 10015.0},
        slice_metrics=[{"slice": "carrier=EV", "rows": 37.0, "auc": 0.69, "auc_diff": None}],
    )
    serving = {"stable": 1, "canary": None, "previous_stables": [], "rejected": []}
    page = report.run_report(first, None, serving)
    shown = _visible(page)
    assert not PYTHON_SPELLING.search(shown), PYTHON_SPELLING.search(shown)
    assert "blessed: yes; pushed version: 1 (stable); no baseline (first model)" in shown
    assert "stable v1, no canary, earlier stables -, rejected -" in shown
    assert ">37<" in page and ">10015<" in page  # rows, not 37.0 / 1.002e+04
    blocked = dict(first, blessed=None, pushed_version=None, release_label=None, baseline_version=2)
    shown = _visible(report.run_report(blocked, None, dict(serving, stable=None, previous_stables=[1])))
    assert "blessed: not judged; pushed version: -; baseline version 2" in shown
    assert "no stable model, no canary, earlier stables v1" in shown
    assert not PYTHON_SPELLING.search(shown), PYTHON_SPELLING.search(shown)
    assert not PYTHON_SPELLING.search(_visible(report.run_report(dict(first, serving_dir=None))))


def _svg_texts_fit(svg: str) -> list:
    """Each <text>'s (content, fits): its estimated width, or the width the
    renderer is told to squeeze it to, inside the SVG's width."""
    width = float(re.search(r"<svg width='(\d+)'", svg).group(1))
    out = []
    for attrs, body in re.findall(r"<text ([^>]*)>(.*?)</text>", svg):
        content = re.sub(r"<title>.*?</title>", "", body)
        content = html.unescape(re.sub(r"<[^>]+>", "", content))
        x = float(re.search(r"x='([\d.]+)'", attrs).group(1))
        size = float(re.search(r"font-size='([\d.]+)'", attrs).group(1))
        squeezed = re.search(r"textLength='([\d.]+)'", attrs)
        bold = "font-weight='600'" in attrs
        # a generous estimate: 0.6 em a character, 0.65 em bold (wider than average glyphs)
        used = float(squeezed.group(1)) if squeezed else len(content) * size * (0.65 if bold else 0.6)
        out.append((content, x + used <= width))
    return out


def test_category_plot_title_and_legend_are_whole_and_fit(summary_of):
    rng = np.random.default_rng(3)
    b = summary_of(pd.DataFrame({"carrier": rng.choice(list("ABC"), 500)}))
    c = summary_of(pd.DataFrame({"carrier": rng.choice(list("ABD"), 500)}))
    svg = report._svg_categorical("carrier", b["carrier"], c["carrier"])
    texts = _svg_texts_fit(svg)
    assert ("carrier: share per category", True) in texts
    assert any("baseline" in t and "current" in t and fits for t, fits in texts)  # the legend
    assert all(fits for _, fits in texts), texts
    long_name = "scheduled_departure_hour_local_time"  # squeezed to fit, never cut
    svg = report._svg_categorical(long_name, b["carrier"], c["carrier"])
    assert (f"{long_name}: share per category", True) in _svg_texts_fit(svg)
    n = summary_of(pd.DataFrame({"t": rng.normal(0, 1, 300)}))["t"]
    svg = report._svg_numeric(long_name, n, n)
    assert (f"{long_name}: cumulative distribution", True) in _svg_texts_fit(svg)
