# Stand-in for apache/kafka where no registry can be reached: the jars the suite's Apache Kafka
# runs from (pinned in apache-kafka.lock, checked against their SHA-256 before they are copied
# here) on Debian bookworm's Java 17, laid out as the official image (/opt/kafka/bin, libs,
# config; user appuser), whose entry point turns KAFKA_* variables into server properties.
ARG BASE=merchstore-standin/debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --create-home appuser \
    && mkdir -p /opt/kafka/bin /opt/kafka/config /var/lib/kafka/data /etc/kafka/docker \
    && chown -R appuser /opt/kafka/config /var/lib/kafka/data
COPY libs/ /opt/kafka/libs/
COPY kafka-run.sh /etc/kafka/docker/run
COPY kafka-tool.sh /opt/kafka/bin/kafka-tool
COPY log4j2.properties /opt/kafka/config/log4j2.properties
# The official distribution's scripts that the compose file and a user reach for, each the
# tool's main class on the same class path.
RUN cd /opt/kafka/bin \
    && for tool in \
        kafka-topics:org.apache.kafka.tools.TopicCommand \
        kafka-broker-api-versions:org.apache.kafka.tools.BrokerApiVersionsCommand \
        kafka-consumer-groups:org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
        kafka-console-consumer:org.apache.kafka.tools.consumer.ConsoleConsumer \
        kafka-console-producer:org.apache.kafka.tools.ConsoleProducer \
        kafka-storage:kafka.tools.StorageTool \
        kafka-server-start:kafka.Kafka; do \
        printf '#!/bin/sh\nexec /opt/kafka/bin/kafka-tool %s "$@"\n' "${tool#*:}" > "${tool%%:*}.sh"; \
    done \
    && chmod 755 /opt/kafka/bin/* /etc/kafka/docker/run
USER appuser
WORKDIR /home/appuser
VOLUME ["/var/lib/kafka/data"]
EXPOSE 9092
CMD ["/etc/kafka/docker/run"]
