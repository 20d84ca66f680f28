"""Evaluator that accepts an empty baseline (first model in a region)."""
