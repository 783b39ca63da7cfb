#!/usr/bin/env bash
# Builds the compatibility suite's Java clients (test/compat/java: Apache HttpClient 5 and
# java.net.http long-form uploads like NAVER's Java sample, HttpURLConnection for the short API,
# a grpc-java NestService client) into one jar, so that tests only run
#   java -cp test/compat/java/target/sori-compat-java.jar ClovaClients
# (test/compat/java-clients.int.test.ts does). scripts/install-test-services.sh calls this script.
#
# Needs a JDK (>= 17) and Maven (>= 3.6); everything else (grpc-java, protobuf, protoc and
# protoc-gen-grpc-java as Maven artifacts, httpclient5, gson) comes from Maven Central into
# ~/.m2. The gRPC stubs are generated from proto/nest.proto itself.
# Skips the build when the jar is newer than pom.xml, the Java sources and proto/nest.proto.
# A cold build (empty ~/.m2: ~70 MB of downloads) took 20 s on the 2-core dev machine; a rebuild
# after a source change with ~/.m2 filled, about 5 s. It prints how long it took.
# Prints the jar's path on stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROJECT=test/compat/java
JAR="$PROJECT/target/sori-compat-java.jar"

for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "the Java compatibility clients need a JDK (>= 17) and Maven: '$tool' is not on PATH (Debian: apt-get install openjdk-17-jdk-headless maven)" >&2
    exit 1
  fi
done

if [ -f "$JAR" ] && [ -z "$(find "$PROJECT/pom.xml" "$PROJECT/src" proto/nest.proto -newer "$JAR" -print -quit)" ]; then
  echo "Java compatibility clients are up to date: $JAR" >&2
else
  echo "building the Java compatibility clients (Maven, quiet)..." >&2
  start=$(date +%s)
  log=$(mktemp "${TMPDIR:-/tmp}/sori-java-build.XXXXXX")
  # -q keeps Maven to errors only; -B: no colours or download progress.
  if ! mvn -q -B -f "$PROJECT/pom.xml" package >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "the Java compatibility clients did not build (full log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
  echo "built $JAR in $(( $(date +%s) - start )) s" >&2
fi
echo "$JAR"
