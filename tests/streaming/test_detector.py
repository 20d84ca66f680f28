"""The stream's detector on records with known answers (pure: event times
given, no broker): stationary records raise nothing; a shift opens an
episode within one pane of 30 s windows and it clears when the records
return; late records are counted, not added; the state survives JSON and
gives the same judgements; CUSUM catches what no window does; unseen
values stay bounded."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from driftgate.core.config import load_region_config
from streaming import replay, thresholds
from streaming.baseline import from_statistics
from streaming.detector import CUSUM, Detector, fixed_tiers

START = 1_357_084_800_000
PANE = 10_000


@pytest.fixture(scope="module")
def setup(stats_of):
    rng = np.random.default_rng(0)
    n = 6000
    frame = pd.DataFrame(
        {
            "temp": rng.normal(40, 10, n).round(1),
            "humid": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(20, 90, n)),
            "carrier": rng.choice(list("ABCDE"), n, p=[0.4, 0.2, 0.2, 0.1, 0.1]),
        }
    )
    cfg = load_region_config("EWR")
    base = from_statistics(stats_of(frame), ["temp", "humid"], ["carrier"], span=1)
    th = thresholds.calibrate(base, cfg.stream, draws=200)
    rows = [{k: (None if v != v else v) for k, v in r.items()} for r in frame.to_dict("records")]
    return cfg, base, th, rows


def _detector(setup, state=None, **stream):
    cfg, base, th, _ = setup
    return Detector(base, dataclasses.replace(cfg.stream, **stream), th, fixed_tiers(cfg.drift), state)


def _feed(det, events, final=True):
    """Adds the events pane by pane, the watermark at each pane's start (the
    panes before it judged), and past the last one when ``final``."""
    panes, out = {}, []
    for t, r in events:
        panes.setdefault(det.pane_of(t), []).append(r)
    for p in sorted(panes):
        det.add(p, panes[p])
        out += det.advance(p * PANE)
    if final and panes:
        out += det.advance((max(panes) + 1) * PANE)
    return out


def rounded(x):
    """``x`` with floats to 9 significant digits: a pane's float sums depend on
    how its records were batched, to rounding; its counts do not."""
    if isinstance(x, float):
        return float(f"{x:.9g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def _warm(r, rng):
    if r["temp"] is not None:
        r["temp"] += 10.0


def test_stationary_records_raise_nothing(setup):
    rows = setup[3]
    det = _detector(setup)
    assert _feed(det, replay.sampled(rows, START, 1800, 50, "t", seed=1)) == []
    assert det.counts["records"] == 90_000 and det.counts["panes"] == 180
    assert {w for (_, _, w) in det.latest} == {30.0, 300.0, 3600.0}


def test_a_shift_opens_an_episode_within_a_pane_and_it_clears_after(setup):
    rows = setup[3]
    det = _detector(setup)
    shift = START + 600_000 + 3_000
    events = list(replay.sampled(rows, START, 603, 50, "t", seed=1))
    events += list(replay.sampled(rows, shift, 120, 50, "t", seed=2, change=_warm))
    events += list(replay.sampled(rows, shift + 120_000, 3700, 50, "t", seed=3))  # the 60-min window forgets
    trans = _feed(det, events)
    kinds = [(t.kind, t.episode.feature) for t in trans]
    assert kinds[0] == ("open", "temp") and kinds[-1] == ("clear", "temp"), kinds
    opened = trans[0]
    assert 0 < opened.pane_end_ms - shift <= PANE
    assert opened.finding.score > opened.finding.threshold and opened.finding.window_s == 30.0
    assert opened.episode.severity in ("warning", "critical")
    assert "temp" not in det.episodes


def test_late_records_are_counted_not_added(setup):
    rows = setup[3]
    det = _detector(setup)
    _feed(det, replay.sampled(rows, START, 60, 50, "t", seed=1))
    before = det.counts["records"]
    assert det.add(det.pane_of(START), rows[:7]) == 7
    assert det.counts["late"] == 7 and det.counts["records"] == before


def test_state_survives_json_and_gives_the_same_judgements(setup):
    rows = setup[3]
    events = list(replay.sampled(rows, START, 400, 50, "t", seed=1))
    events += list(replay.sampled(rows, START + 400_000, 200, 50, "t", seed=2, change=_warm))
    whole = _detector(setup)
    a = _feed(whole, events)
    half = _detector(setup)
    cut = len(events) // 2 + 123
    b = _feed(half, events[:cut], final=False)
    resumed = _detector(setup, json.loads(json.dumps(half.to_json())))
    b += _feed(resumed, events[cut:])
    assert [(t.kind, t.episode.id, t.finding and rounded(t.finding.score)) for t in a] == [
        (t.kind, t.episode.id, t.finding and rounded(t.finding.score)) for t in b
    ]
    assert rounded(whole.to_json()) == rounded(resumed.to_json())


def test_cusum_catches_a_creep_no_window_sees(setup, monkeypatch):
    rows = setup[3]
    det = _detector(setup, cusum_threshold=2.0)
    monkeypatch.setattr(thresholds.Thresholds, "at", lambda *a: float("inf"))  # windows never fire here

    def creep(r, rng):
        if r["temp"] is not None:
            r["temp"] += 6.0  # 0.6 baseline std

    trans = _feed(det, replay.sampled(rows, START, 600, 50, "t", seed=4, change=creep))
    assert trans and trans[0].episode.feature == "temp" and trans[0].finding.test == CUSUM
    assert trans[0].episode.severity == "critical"
    quiet = _detector(setup, cusum_threshold=2.0)
    assert _feed(quiet, replay.sampled(rows, START, 600, 50, "t", seed=4)) == []


def test_unseen_values_stay_bounded(setup):
    rows = setup[3]
    det = _detector(setup, max_new_categories=5)
    junk = [dict(rows[i], carrier=f"X{i}") for i in range(300)]
    _feed(det, [(START + i * 10, r) for i, r in enumerate(junk)])
    pane = det.panes[det.pane_of(START)]
    new = [k for k in pane.cat[0] if k not in det.baseline.categorical[0].base.counts]
    assert len(new) == 6 and "__other__" in new and sum(pane.cat[0].values()) == 300


def test_served_predictions_are_judged_against_the_models_own_histogram(setup):
    """A serving-log topic's records carry the served probability: judged
    against the histogram the release recorded of the model's predictions
    on its training span."""
    from streaming.baseline import prediction_grid, with_predictions

    cfg, base, _, rows = setup
    rng = np.random.default_rng(5)
    reference = np.histogram(rng.beta(2, 5, 5000), bins=20, range=(0, 1))[0].tolist()
    pbase = with_predictions(base, prediction_grid("prediction", reference))
    th = thresholds.calibrate(pbase, cfg.stream, draws=200)
    det = Detector(pbase, cfg.stream, th, fixed_tiers(cfg.drift))

    def served(shift):
        def f(r, g):
            r["prediction"] = min(1.0, g.betavariate(2, 5) + shift)

        return f

    calm = list(replay.sampled(rows, START, 600, 50, "t", seed=1, change=served(0.0)))
    assert _feed(det, calm) == []
    moved = list(replay.sampled(rows, START + 600_000, 60, 50, "t", seed=2, change=served(0.15)))
    trans = _feed(det, moved)
    assert [t.episode.feature for t in trans if t.kind == "open"] == ["prediction"]
