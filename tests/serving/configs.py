"""Reading a region's TF Serving configs back in tests."""

from serving import release


def config_of(serving_dir, name=release.CONFIG_FILE):
    """The parsed ``ModelServerConfig`` at ``serving_dir/name``."""
    return release.parse_config((serving_dir / name).read_text())


def labels_of(serving_dir, name=release.CONFIG_FILE):
    """({label: version}, [versions]) of the one model in that config."""
    (model,) = config_of(serving_dir, name).model_config_list.config
    return dict(model.version_labels), list(model.model_version_policy.specific.versions)
