"""Real engines started on loopback for tests, demos and a developer's laptop:
Apache Kafka (:mod:`.kafka`), Apache Flink with Beam's job server (:mod:`.flink`)
and fake-gcs-server (:mod:`.gcs`). Their jars and binaries are fetched once by
``make engines`` (:mod:`.engines`) into a git-ignored cache; nothing here runs in
production."""
