"""The ``driftgate`` group: version, exit codes, errors as one line.

Exit codes: 0 done; 1 error (one line on stderr naming the region, file, key
or column and what to do); 2 usage error (unknown option, missing argument);
3 the span was blocked by its data (nothing trained, serving unchanged);
4 a model was trained and pushed but the release step rejected it (no label:
the serving model is unchanged; the line and the alert say why); 5 another run
of the region holds its lease (the line names it; nothing was done).
Set ``DRIFTGATE_DEBUG=1`` for the traceback behind an error.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import click

from driftgate.cli import output

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BLOCKED, EXIT_REJECTED, EXIT_BUSY = 0, 1, 2, 3, 4, 5
_PACKAGES = ("driftgate", "tfx", "tensorflow-data-validation", "kfp", "tensorflow")


def versions() -> dict:
    """Installed versions of driftgate and the stack (read from package metadata: no imports)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _print_version(ctx, param, value):
    if not value or ctx.resilient_parsing:
        return
    click.echo(" ".join(f"{k} {v}" for k, v in versions().items()))
    ctx.exit(0)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit codes: 0 done, 1 error, 2 usage error, 3 span blocked by its data, "
    "4 pushed version rejected at release, 5 region busy (another run holds its lease).",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="show versions",
)
def cli():
    """Drift-gated continuous training across regions (a TFX pipeline per region)."""


def _register() -> None:
    from driftgate.cli import backtest, config_cmd, data, kubeflow, run, schema, serving

    for module in (run, data, kubeflow, schema, serving, config_cmd, backtest):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def quiet_environment() -> None:
    """Before TensorFlow loads: legacy Keras, and no C++ info chatter."""
    import warnings

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's C++ start-up noise (CUDA probes)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the CLI; returns the exit code (never raises)."""
    from driftgate.core.config import ConfigError
    from driftgate.core.lease import LeaseHeld

    quiet_environment()
    try:
        code = cli.main(args=argv, prog_name="driftgate", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except (click.Abort, KeyboardInterrupt):
        output.error("interrupted")
        return EXIT_ERROR
    except ConfigError as exc:
        output.error(str(exc))
        return EXIT_ERROR
    except LeaseHeld as exc:
        output.error(str(exc))
        return EXIT_BUSY
    except Exception as exc:  # last resort: one readable line, not a traceback
        if os.environ.get("DRIFTGATE_DEBUG"):
            raise
        known = type(exc).__name__ in (
            "PreflightError",
            "SpanError",
            "KfpError",
            "ReleaseError",
            "SchemaError",
            "DataError",
            "FileExistsError",
            "BacktestError",
        )
        output.error(str(exc) if known else f"{type(exc).__name__}: {exc}")
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
