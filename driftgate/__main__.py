"""``python -m driftgate``: the same as the ``driftgate`` command."""

import sys

from driftgate.cli.main import main

sys.exit(main())
