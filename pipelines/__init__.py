"""Region pipelines: config (strict YAML -> dataclasses), the pure pipeline
factory, runners (local and Kubeflow) and the ``driftgate`` CLI."""

import os

# Legacy Keras (tf-keras) must be chosen before anything imports TensorFlow:
# otherwise TFMA binds tf.keras to Keras 3, whose SavedModel export fails.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
