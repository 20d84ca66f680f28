"""The ``driftgate`` group and the command line's edge: version, errors as
one line, exit codes.

A :class:`driftgate.core.errors.DriftgateError` is shown as its one line and
exits with its ``exit_code`` (the codes: ``driftgate.core.errors``); a
command's result (a blocked span, a rejected release) returns an
``ExitCode``. Anything else is shown as ``<type>: <message>`` with exit 1.
Set ``DRIFTGATE_DEBUG=1`` for the traceback behind an error.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import click

from driftgate.cli import output
from driftgate.core.errors import EXIT_HELP, DriftgateError, ExitCode

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
    epilog=EXIT_HELP,
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="show versions",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    envvar="DRIFTGATE_LOG_FORMAT",
    help="stderr as text (default) or one JSON object per line (also: DRIFTGATE_LOG_FORMAT)",
)
def cli(log_format):
    """Drift-gated continuous training across regions (a TFX pipeline per region)."""
    from driftgate.core import logs

    logs.configure(log_format)


def _register() -> None:
    from driftgate.cli import (
        audit,
        backtest,
        config_cmd,
        data,
        digest,
        kubeflow,
        land,
        local,
        run,
        schema,
        serving,
    )

    for module in (run, data, kubeflow, schema, serving, config_cmd, backtest, land, local, audit, digest):
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


def _json_logs_asked(argv: Optional[List[str]]) -> bool:
    args = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(args):
        if a == "--log-format" and i + 1 < len(args):
            return args[i + 1] == "json"
        if a.startswith("--log-format="):
            return a.split("=", 1)[1] == "json"
    from driftgate.core import logs

    return logs.is_json()


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the CLI; returns the exit code (never raises)."""
    quiet_environment()
    if _json_logs_asked(argv):  # every stderr line JSON, also TensorFlow's C++ ones
        from driftgate.core import logs

        logs.capture_native_stderr()
    try:
        code = cli.main(args=argv, prog_name="driftgate", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return ExitCode.USAGE
    except click.ClickException as exc:
        exc.show()
        return ExitCode.ERROR
    except (click.Abort, KeyboardInterrupt):
        output.error("interrupted")
        return ExitCode.ERROR
    except DriftgateError as exc:
        if os.environ.get("DRIFTGATE_DEBUG"):
            raise
        output.error(str(exc))
        return exc.exit_code
    except FileExistsError as exc:  # a command refusing to overwrite: its message says what to do
        output.error(str(exc))
        return ExitCode.ERROR
    except Exception as exc:  # last resort: one readable line, not a traceback
        if os.environ.get("DRIFTGATE_DEBUG"):
            raise
        output.error(f"{type(exc).__name__}: {exc}")
        return ExitCode.ERROR
    return int(code) if isinstance(code, int) else ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
