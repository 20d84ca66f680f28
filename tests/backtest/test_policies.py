"""Policy walks over small hand-made matrices, checked against hand computation."""

import itertools
import math

import pytest

from backtest import policies as p


def _matrix(served, evals=None):
    """``served[i][j]`` for j > i; evals default: each model scores its own span best."""
    n = len(served) + 1
    spans = list(range(1, n + 1))
    full = {i: {j: served[i][j - i - 1] for j in range(i + 1, n)} for i in range(n - 1)}
    full[n - 1] = {}
    ev = evals or {i: {j: ((0.9 if i == j else 0.7), 0.8) for j in range(i, n)} for i in range(n)}
    return p.Matrix(spans, full, ev)


# 5 spans; model i scored on spans i+1..4: a model loses 0.05 AUC a span of age
AGING = _matrix(
    [
        [0.80, 0.75, 0.70, 0.65],
        [0.80, 0.75, 0.70],
        [0.80, 0.75],
        [0.80],
    ]
)


def test_never_and_always_by_hand():
    bless = p.Bless()
    never = p.walk("never", AGING, p.never(), bless)
    always = p.walk("always", AGING, p.always(), bless)
    assert never.serving == [0, 0, 0, 0] and never.auc == [0.80, 0.75, 0.70, 0.65]
    assert always.serving == [0, 1, 2, 3] and always.auc == [0.80] * 4
    assert always.retrains == [1, 2, 3] and never.retrains == []
    assert math.isclose(never.mean, 0.725) and never.worst == 0.65


def test_every_k_and_age_cap_by_hand():
    bless = p.Bless()
    two = p.walk("every-2", AGING, p.every(2), bless)
    assert two.retrains == [2] and two.serving == [0, 0, 2, 2] and two.auc == [0.80, 0.75, 0.80, 0.75]
    age = p.walk("age", AGING, p.age_cap(AGING.spans, 1), bless)  # older than 1 span: retrain
    assert age.retrains == [2] and age.serving == [0, 0, 2, 2]


def test_a_candidate_the_evaluator_does_not_bless_leaves_the_model_serving():
    evals = {i: {j: (0.7, 0.8) for j in range(i, 5)} for i in range(5)}
    evals[2][2] = (0.65, 0.8)  # model 2 worse than model 0 on span 2's eval split
    m = _matrix([[0.8, 0.75, 0.7, 0.65], [0.8, 0.75, 0.7], [0.8, 0.75], [0.8]], evals)
    w = p.walk("always", m, p.always(), p.Bless(min_auc_improvement=0.0))
    assert w.retrains == [1, 2, 3] and w.changes == [1, 3] and w.serving == [0, 1, 1, 3]
    floor = p.walk("always", m, p.always(), p.Bless(min_auc=0.75))  # value threshold fails all
    assert floor.changes == [] and floor.serving == [0, 0, 0, 0]


def test_oracle_by_hand_and_never_below_any_walk_with_as_many_changes():
    oracles = p.oracle(AGING)
    assert sorted(oracles) == [0, 1, 2, 3]
    assert oracles[0].serving == [0, 0, 0, 0]
    # one change: at t=2 (serve 0.80, 0.75, 0.80, 0.75) beats t=1 (.80,.80,.75,.70) and t=3
    assert oracles[1].serving == [0, 0, 2, 2] and math.isclose(oracles[1].mean, 0.775)
    assert oracles[3].mean == pytest.approx(0.80)
    # exhaustive: every walk with k changes is at most the oracle's
    for path in itertools.product(*[[None, t] for t in range(1, 4)]):
        serving, m = [0], 0
        for choice in path:
            m = choice if choice is not None else m
            serving.append(m)
        k = sum(c is not None for c in path)
        mean = sum(AGING.served[s][t + 1] for t, s in enumerate(serving)) / 4
        assert mean <= oracles[k].mean + 1e-12


def test_scores_gain_and_regret():
    bless = p.Bless()
    walks = {
        name: p.walk(name, AGING, d, bless)
        for name, d in (("never", p.never()), ("always", p.always()), ("every-2", p.every(2)))
    }
    rows = {r.policy: r for r in p.score(walks, p.oracle(AGING))}
    assert rows["never"].gain == 0 and rows["always"].gain == 1
    assert rows["every-2"].gain == pytest.approx((0.775 - 0.725) / (0.80 - 0.725))
    assert rows["every-2"].regret == pytest.approx(0.0)  # every-2 is the best single change here
    assert rows["never"].regret == pytest.approx(0.0) and rows["always"].retrains == 3


def test_staleness_curve():
    assert p.staleness(AGING) == pytest.approx({1: 0.80, 2: 0.75, 3: 0.70, 4: 0.65})


def _row(policy, gain, changes):
    return p.Score(policy, changes, changes, 0.7, 0.6, gain, 0.0)


def test_leave_one_out_chooses_on_the_other_regions_by_mean_gain_then_fewer_changes():
    rows = {
        "A": [_row("t0.5", 0.8, 7), _row("t1.0", 0.9, 4), _row("t2.0", 0.9, 4)],
        "B": [_row("t0.5", 1.2, 6), _row("t1.0", 1.0, 5), _row("t2.0", 1.0, 5)],
        "C": [_row("t0.5", 0.6, 6), _row("t1.0", 0.8, 5), _row("t2.0", 0.8, 3)],
    }
    chosen = p.leave_one_out(rows, ["t0.5", "t1.0", "t2.0"])
    # A: on B and C, 0.9 vs 0.9 for t1.0 and t2.0: t2.0 has fewer changes there
    # B: on A and C, t1.0 and t2.0 gain 0.85, t2.0 fewer changes
    # C: on A and B, t0.5 gains 1.0 vs 0.95
    assert chosen == {"A": "t2.0", "B": "t2.0", "C": "t0.5"}
    # a full tie goes to the later (more cautious) candidate; one region: no choice
    same = {"A": [_row("x", 0.5, 2), _row("y", 0.5, 2)], "B": [_row("x", 0.5, 2), _row("y", 0.5, 2)]}
    assert p.leave_one_out(same, ["x", "y"]) == {"A": "y", "B": "y"}
    assert p.leave_one_out({"A": rows["A"]}, ["t0.5"]) == {}


def test_leave_one_region_out_adds_the_held_out_row_before_driftgate():
    from backtest import run

    names = ["never", "always", *run.IMPORTANCE_POLICIES, "driftgate"]
    assert names == [n for n in run.policy_names() if n in names]
    assert run.policy_names().index(run.LORO) == run.policy_names().index("driftgate") - 1
    gains = {"EWR": [0.9, 1.0, 1.0, 1.0], "JFK": [0.8, 1.0, 1.0, 1.0], "LGA": [1.2, 0.8, 0.8, 0.8]}
    results = []
    for region, g in gains.items():
        rows = [_row("never", 0.0, 0), _row("always", 1.0, 10)]
        rows += [
            _row(n, x, 5 + (k == 0)) for k, (n, x) in enumerate(zip(run.IMPORTANCE_POLICIES, g, strict=True))
        ]
        rows.append(_row("driftgate", 0.95, 4))
        walks = {r.policy: p.Walk(r.policy, retrains=[r.changes]) for r in rows}
        res = run.RegionResult(region, [1, 2, 3], rows, walks, {}, {}, AGING)
        res.loro = {"wanted": True}
        results.append(res)
    run.leave_one_region_out(results)
    chosen = {r.region: r.loro["chosen"] for r in results}
    # EWR: on JFK and LGA 0.5 gains 1.0 vs 0.9; LGA: on EWR and JFK the higher thresholds tie: 2.0
    assert chosen == {
        "EWR": "driftgate-importance-0.5",
        "JFK": "driftgate-importance-0.5",
        "LGA": "driftgate-importance-2.0",
    }
    lga = results[2]
    assert [r.policy for r in lga.rows][-2:] == [run.LORO, "driftgate"] and list(lga.walks)[-2:] == [
        run.LORO,
        "driftgate",
    ]
    assert next(r for r in lga.rows if r.policy == run.LORO).gain == 0.8
    assert lga.to_json()["importance_loro"] == {
        "chosen": "driftgate-importance-2.0",
        "chosen_on": ["EWR", "JFK"],
    }
    assert [r.policy for r in run.overall(results)][-2:] == [run.LORO, "driftgate"]
