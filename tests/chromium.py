"""Headless Chromium as the tests drive it: one command line for screenshots
and DOM dumps of a page (reports, the digest, the docs site)."""

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
need_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (scripts/ensure_debian_packages.sh)"
)


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    """Runs headless Chromium on ``url`` with its own profile folder, no network
    services; ``extra``: e.g. ``--dump-dom`` or ``--screenshot=<png>``."""
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
