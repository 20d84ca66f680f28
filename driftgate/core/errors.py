"""One error type for everything a user can fix, carrying the process exit code.

Every error driftgate raises for bad input or a refused action is a
:class:`DriftgateError`: its message is one line naming the region, file, key
or column and what to do, and ``exit_code`` is what the ``driftgate`` command
exits with. The command line's edge (``driftgate.cli.main``) maps it; no
command module decides an exit code for an error.

Exit codes: 0 done; 1 error; 2 usage error (unknown option, missing argument);
3 the span was blocked by its data (nothing trained, serving unchanged); 4 a
model was trained and pushed but the release step rejected it (no label: the
serving model is unchanged); 5 another run of the region holds its lease
(nothing was done).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    BLOCKED = 3
    REJECTED = 4
    BUSY = 5


EXIT_HELP = (
    "Exit codes: 0 done, 1 error, 2 usage error, 3 span blocked by its data, "
    "4 pushed version rejected at release, 5 region busy (another run holds its lease)."
)


class DriftgateError(Exception):
    """An error the user can act on; ``str()`` is the one line to show."""

    exit_code: ExitCode = ExitCode.ERROR
