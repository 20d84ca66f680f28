"""Drift, skew and gradual drift from TFDV statistics, and the span decision."""
