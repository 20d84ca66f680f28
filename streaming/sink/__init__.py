"""A Kafka topic into span files on a disk or a bucket, exactly once, in the
pieces Kafka Connect's storage sinks keep apart
(confluentinc/kafka-connect-storage-common ``partitioner/``, ``format/``,
``storage/``; kafka-connect-storage-cloud ``S3SinkTask.preCommit``):

- ``partitioner``: a record's event time to its span folder;
- ``format``: rows to a file's bytes (CSV with the region's header);
- storage: ``driftgate.core.storage`` (create-if-absent, copy, list, delete,
  compare-and-swap; each store's consistency written there), one API for a
  folder and a bucket;
- ``commit``: the checkpoint, the one commit point, written by
  compare-and-swap with an epoch that fences out a lander that was cut off;
- ``writer``: stages each buffer, commits, then publishes what was committed.

``streaming.lander`` is the task around them: it consumes, decodes, keeps
the watermark and the dead-letter topic, and asks the writer to flush and
seal.
"""
