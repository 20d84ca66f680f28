"""The region model: tf.Example parsing, a Keras model, and the TFX ``run_fn``.

TensorFlow must run with legacy Keras (tf-keras) so that SavedModels load in
the Evaluator and TF Serving; that is set here, before anything imports TF.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
