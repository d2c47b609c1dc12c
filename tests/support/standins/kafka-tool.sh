#!/bin/sh
# Runs one of Apache Kafka's main classes on the image's jars, as bin/kafka-run-class.sh does.
main=$1
shift
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -Djava.awt.headless=true \
    -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    -cp '/opt/kafka/libs/*' "$main" "$@"
