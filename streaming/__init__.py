"""Kafka in: ``driftgate land`` turns a region's topic into sealed spans the
pipeline reads unchanged (``lander``), from pure pieces: event time to span
number (``spans``), record decoding and refusal (``records``), the event-time
watermark that seals spans (``watermark``), and the span folder's files and
manifest (``files``). ``kafka`` holds the client settings and, for tests and
the demo only, the local Kafka-protocol broker.
"""
