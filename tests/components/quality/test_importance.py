"""Permutation importance on a SavedModel that reads x strongly, y weakly and
z not at all; Clarify's nDCG on rankings; importance-weighted drift."""

import math

import numpy as np
import pytest

from components.quality import importance as imp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WX, WY = 3.0, 1.0  # the model's weights on x and y; z is parsed but unused


def _model(path):
    import tensorflow as tf

    spec = {n: tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]) for n in ("x", "y", "z")}

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples):
            f = tf.io.parse_example(examples, spec)
            return {"probabilities": tf.sigmoid(WX * f["x"] + WY * f["y"] + 0.0 * f["z"])}

    m = M()
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve})
    return path


def _records(n, seed=3, missing_y=0.0):
    """Serialized examples and labels drawn from the model's own logistic law
    (some rows without y when ``missing_y``)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x, y, z = rng.normal(size=(3, n))
    has_y = rng.random(n) >= missing_y
    logit = WX * x + WY * np.where(has_y, y, 0.0)
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    out = []
    for i in range(n):
        values = {"x": x[i], "z": z[i]}
        if has_y[i]:
            values["y"] = y[i]
        feats = {k: tf.train.Feature(float_list=tf.train.FloatList(value=[v])) for k, v in values.items()}
        out.append(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
    return out, labels


@pytest.fixture(scope="module")
def predict(tmp_path_factory):
    from serving import signature

    path = _model(str(tmp_path_factory.mktemp("model") / "serving"))
    return imp.predictor(signature.load(path))


@pytest.fixture(scope="module")
def data():
    return _records(3000, missing_y=0.1)


def test_importance_orders_x_then_y_then_z(predict, data):
    records, labels = data
    result = imp.importance(predict, records, labels, ["z", "y", "x"], max_rows=2000)
    v = result.values
    assert result.method == "permutation_auc" and result.rows == 2000
    assert result.base_auc > 0.8
    assert v["x"] > v["y"] > 0.005, v
    assert v["y"] > 5 * abs(v["z"])
    assert v["z"] == 0.0  # the model never reads z: its permutation changes no score
    assert result.ranking() == ["x", "y", "z"]


def test_deterministic_and_round_trips(predict, data):
    records, labels = data
    a = imp.importance(predict, records, labels, ["x", "y", "z"], max_rows=500, seed=1)
    b = imp.importance(predict, records, labels, ["x", "y", "z"], max_rows=500, seed=1)
    assert a == b
    assert imp.Importance.from_json(a.to_json()) == a
    c = imp.importance(predict, records, labels, ["x", "y", "z"], max_rows=500, seed=2)
    assert c.values != a.values  # another seed samples other rows


def test_rows_scored_bounded_by_features_plus_one_times_max_rows(predict, data):
    records, labels = data
    scored = []

    def spy(batch):
        scored.append(len(batch))
        return predict(batch)

    result = imp.importance(spy, records, labels, ["x", "y", "z"], max_rows=400)
    assert result.rows == 400
    assert sum(scored) <= 4 * 400
    assert len(scored) == 1  # every permuted copy in one call


def test_rows_without_a_label_are_left_out(predict):
    records, labels = _records(300)
    labels[:50] = np.nan
    result = imp.importance(predict, records, labels, ["x"], max_rows=1000)
    assert result.rows == 250


def test_permutation_moves_the_feature_entry_and_its_absence():
    from tensorflow.core.example import example_pb2

    records, _ = _records(200, missing_y=0.3)
    order = imp.permutation("y", len(records))
    assert list(order) == list(imp.permutation("y", len(records)))  # stable across calls (crc32)
    assert list(order) != list(imp.permutation("x", len(records)))
    out = [example_pb2.Example.FromString(r) for r in imp.permuted(records, "y", order)]
    src = [example_pb2.Example.FromString(r) for r in records]
    for i, e in enumerate(out):
        moved = src[order[i]].features.feature
        if "y" in moved:
            assert e.features.feature["y"] == moved["y"]
        else:
            assert "y" not in e.features.feature
        for other in ("x", "z"):  # the other features stay on their row
            assert e.features.feature[other] == src[i].features.feature[other]
    assert sum("y" in e.features.feature for e in out) == sum("y" in e.features.feature for e in src)


def test_spliced_examples_equal_moving_the_proto_entries():
    """The wire-level splice against the plain proto way, on mixed kinds,
    multi-valued lists and rows missing the feature."""
    import tensorflow as tf

    def ex(i):
        f = {"n": tf.train.Feature(int64_list=tf.train.Int64List(value=[i, 2 * i]))}
        if i % 3:
            f["s"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"v{i}".encode() * (i + 1)]))
        f["w"] = tf.train.Feature(float_list=tf.train.FloatList(value=[0.5] * (i * 7)))  # long entries
        return tf.train.Example(features=tf.train.Features(feature=f))

    records = [ex(i).SerializeToString() for i in range(40)]
    # two Examples concatenated parse as one (maps merge, a repeated key's last entry wins):
    # the splice must see every entry, and drop both copies of a moved one
    records += [records[1] + records[2], records[5] + records[0] + records[7]]
    src = [tf.train.Example.FromString(r) for r in records]
    for feature in ("s", "w", "absent"):
        order = imp.permutation(feature, len(records), seed=4)
        got = [tf.train.Example.FromString(r) for r in imp.permuted(records, feature, order)]
        for i, e in enumerate(got):
            want = tf.train.Example()
            want.CopyFrom(src[i])
            donor = src[order[i]].features.feature
            if feature in donor:
                want.features.feature[feature].CopyFrom(donor[feature])
            elif feature in want.features.feature:
                del want.features.feature[feature]
            # as dicts: upb's == on a freshly parsed map with repeated keys is unreliable
            assert dict(e.features.feature) == dict(want.features.feature)


def test_single_class_sample_raises(predict):
    records, labels = _records(100)
    with pytest.raises(ValueError, match="both classes"):
        imp.importance(predict, records, np.ones(len(records)), ["x"])


# nDCG (SageMaker Clarify's feature attribution drift score)


def test_ndcg_identical_rankings_is_one():
    ref = {"a": 0.3, "b": 0.2, "c": 0.1}
    assert imp.ndcg(ref, ref) == 1.0
    assert imp.ndcg(ref, {"a": 9.0, "b": 5.0, "c": -1.0}) == 1.0  # only the order of current counts


def test_ndcg_reversed_ranking_of_five_is_an_alert():
    ref = {f: v for f, v in zip("abcde", [0.5, 0.4, 0.3, 0.2, 0.1], strict=True)}
    rev = {f: -v for f, v in ref.items()}
    assert imp.ndcg(ref, rev) < imp.NDCG_ALERT == 0.9


def test_ndcg_hand_computed_three_features():
    # Clarify's own example: training 0.70 / 0.50 / 0.05, live ranking reversed.
    ref = {"sat": 0.70, "gpa": 0.50, "rank": 0.05}
    cur = {"sat": 0.10, "gpa": 0.20, "rank": 0.70}
    dcg = 0.05 / 1 + 0.50 / math.log2(3) + 0.70 / 2
    idcg = 0.70 / 1 + 0.50 / math.log2(3) + 0.05 / 2
    assert imp.ndcg(ref, cur) == pytest.approx(dcg / idcg, abs=1e-6)
    assert imp.ndcg(ref, cur) == pytest.approx(0.6877, abs=1e-4)


def test_ndcg_clips_negative_reference_values_and_takes_importance_objects():
    ref = imp.Importance("permutation_auc", 10, 0.8, {"a": 0.2, "b": -0.1, "c": 0.0})
    # b and c carry no relevance: swapping them changes nothing
    assert imp.ndcg(ref, {"a": 0.2, "b": 0.0, "c": 0.1}) == 1.0
    assert imp.ndcg(ref, {"a": 0.0, "b": 0.2, "c": 0.1}) == pytest.approx(1 / math.log2(4), abs=1e-6)
    assert imp.ndcg({"a": 0.0}, {"a": 0.0}) == 1.0  # nothing mattered: nothing lost


def test_describe_names_the_moves():
    ref = {"distance": 0.4, "carrier": 0.3, "temp": 0.2, "dest": 0.1}
    cur = {"distance": 0.1, "carrier": 0.3, "temp": 0.2, "dest": 0.5}
    s = imp.describe(ref, cur)
    assert s.startswith(f"importance ranking nDCG {imp.ndcg(ref, cur):.2f} vs push (below 0.9): ")
    assert "dest rose from 4th to 1st" in s and "distance fell from 1st to 4th" in s
    assert imp.describe(ref, ref).endswith("(at or above 0.9): ranking unchanged")


# importance-weighted drift


def test_weighted_drift_weights_and_top():
    out = imp.weighted_drift({"a": 0.3, "b": 0.1, "c": -0.05}, {"a": 2.0, "b": 0.5, "c": 10.0})
    assert out["weights"] == {"a": 0.75, "b": 0.25, "c": 0.0}
    assert out["score"] == pytest.approx(0.75 * 2.0 + 0.25 * 0.5)
    assert out["top"] == [("a", 0.75, 2.0, 1.5), ("b", 0.25, 0.5, 0.125)]  # c weighs nothing


def test_weighted_drift_uniform_when_no_feature_matters():
    out = imp.weighted_drift({"a": 0.0, "b": -0.01}, {"a": 1.0, "b": 3.0})
    assert out["weights"] == {"a": 0.5, "b": 0.5}
    assert out["score"] == pytest.approx(2.0)
    assert [t[0] for t in out["top"]] == ["b", "a"]


def test_weighted_drift_at_most_five_and_missing_scores_count_zero():
    names = [f"f{i}" for i in range(8)]
    out = imp.weighted_drift({f: 1.0 for f in names}, {f: float(i) for i, f in enumerate(names[:7])})
    assert len(out["top"]) == 5 and out["top"][0][0] == "f6"
    assert out["score"] == pytest.approx(sum(range(7)) / 8)
