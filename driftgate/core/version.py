"""The installed driftgate's version (recorded in every run's result)."""


def driftgate_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("driftgate")
    except PackageNotFoundError:
        return "unknown"
