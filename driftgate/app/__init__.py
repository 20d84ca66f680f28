"""Use cases the CLI calls: each does one job and returns data; none prints."""
