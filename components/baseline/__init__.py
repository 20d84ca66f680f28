"""Baseline lookup without Resolver nodes (open-source Kubeflow cannot run them)."""
