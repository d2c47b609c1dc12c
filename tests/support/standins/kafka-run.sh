#!/bin/bash
# The official apache/kafka image's entry point, for the stand-in: every KAFKA_* variable is a
# server property (KAFKA_ dropped, lower case; '_' is '.', '__' is '-', '___' is '_'), the log
# directory is formatted once for CLUSTER_ID (the official image's default when unset), and the
# broker runs in the foreground.
set -euo pipefail
config=/opt/kafka/config/server.properties
: > "$config"
for name in $(compgen -e); do
    case $name in
        KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS) continue ;;
        KAFKA_*) ;;
        *) continue ;;
    esac
    key=$(printf '%s' "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' \
        | sed -e 's/___/\x01/g' -e 's/__/\x02/g' -e 's/_/./g' -e 's/\x01/_/g' -e 's/\x02/-/g')
    printf '%s=%s\n' "$key" "${!name}" >> "$config"
done
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted \
    --cluster-id "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" --config "$config"
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m}
exec /opt/kafka/bin/kafka-server-start.sh "$config"
