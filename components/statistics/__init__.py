"""StatisticsGen with an in-process executor (``executor.py``)."""
