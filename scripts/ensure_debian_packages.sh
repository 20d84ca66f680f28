#!/usr/bin/env bash
# Installs the Debian packages some tests drive for real (headless Chromium for the
# HTML report screenshot; promtool, amtool and a Pushgateway for the monitoring tests;
# Java 17 and Maven for the Apache Kafka and Flink jars: make engines)
# when missing and when we may (root + apt-get).
# Never fails the build: a test whose tool is still missing is skipped and says why.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo ">> not installing ${need[*]} (needs root and apt-get); the tests that use them will be skipped" >&2
  exit 0
fi
echo ">> installing Debian packages: ${need[*]}" >&2
apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || echo ">> apt-get install ${need[*]} failed; the tests that use them will be skipped" >&2
exit 0
