"""Span ingestion: which span a run takes, and the ExampleGen that takes it."""
