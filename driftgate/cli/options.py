"""Options several commands share, declared once, and config discovery.

Config folder: ``--config-dir`` > ``DRIFTGATE_CONFIG_DIR`` > ``./pipelines/regions``
in the working directory > the project's ``pipelines/regions``. ``--root`` and
``--data`` default to ``DRIFTGATE_ROOT`` / ``DRIFTGATE_DATA``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import click

region_option = click.option("--region", required=True, help="region name (a file in the config folder)")
config_dir_option = click.option(
    "--config-dir",
    envvar="DRIFTGATE_CONFIG_DIR",
    default=None,
    help="folder of region YAML files [env DRIFTGATE_CONFIG_DIR; default ./pipelines/regions, else the project's]",
)
root_option = click.option(
    "--root",
    envvar="DRIFTGATE_ROOT",
    default="runs",
    show_default=True,
    help="state root: local folder or bucket URI [env DRIFTGATE_ROOT]",
)
data_option = click.option(
    "--data",
    envvar="DRIFTGATE_DATA",
    default=None,
    help="folder with one sub-folder per region [env DRIFTGATE_DATA]",
)
schemas_option = click.option(
    "--schemas", default=None, help="schemas folder (default: schemas/ in the project)"
)
span_option = click.option("--span", type=int, required=True, help="span number")


def int_list(ctx, param, text: Optional[str]) -> Optional[List[int]]:
    """click callback: '1,2,3' -> [1, 2, 3]."""
    if text is None or isinstance(text, list):
        return text
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}") from None


def regions_dir(config_dir: Optional[str]) -> Path:
    """The config folder to use (see module docstring)."""
    from driftgate.core.config import REGIONS_DIR

    if config_dir:
        return Path(config_dir)
    local = Path.cwd() / "pipelines" / "regions"
    return local if local.is_dir() else REGIONS_DIR


def load(region: str, config_dir: Optional[str]):
    from driftgate.core.config import load_region_config

    return load_region_config(region, regions_dir(config_dir))


def configs(region: Optional[str], all_regions: bool, config_dir: Optional[str]) -> list:
    """The configs a command works on: one region, or every configured one."""
    from driftgate.core.config import available_regions, load_region_config

    folder = regions_dir(config_dir)
    if region and all_regions:
        raise click.UsageError("give --region or --all, not both")
    names = [region] if region else list(available_regions(folder))
    if not region and not all_regions:
        raise click.UsageError("give --region REGION or --all")
    return [load_region_config(r, folder) for r in names]
