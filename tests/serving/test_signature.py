"""``serving.signature``: a real SavedModel's serving signature called as TF
Serving's Predict calls it (its own input name, batches, one score a row)."""

import numpy as np
import pytest

from serving import signature


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import tensorflow as tf

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="records")])
        def serve(self, records):
            x = tf.io.parse_example(records, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
            p = tf.sigmoid(x)
            return {"probabilities": tf.concat([1 - p, p], axis=1), "logit": x}

    path = str(tmp_path_factory.mktemp("model"))
    m = Model()
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve})
    return path


def _examples(values):
    import tensorflow as tf

    return [
        tf.train.Example(
            features=tf.train.Features(
                feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[v]))}
            )
        ).SerializeToString()
        for v in values
    ]


def test_scores_each_row_in_batches_with_the_signatures_own_input_name(model_dir):
    fn = signature.load(model_dir)
    values = np.linspace(-3, 3, 7)
    got = signature.predict(fn, _examples(values), batch=3, output="probabilities")  # 3 batches
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-values)), rtol=1e-6)  # the positive class's column
    np.testing.assert_allclose(signature.predict(fn, _examples(values), output="logit"), values, rtol=1e-6)


def test_no_rows_give_no_scores(model_dir):
    assert signature.predict(signature.load(model_dir), []).shape == (0,)
