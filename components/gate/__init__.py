"""The data gate: decides from ExampleValidator's anomalies whether a span may train."""
