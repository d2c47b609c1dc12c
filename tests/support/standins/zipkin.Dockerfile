# Stand-in for openzipkin/zipkin where no registry can be reached: Zipkin's server, the exec jar
# `merchstore up --tracing` runs (pinned in zipkin.lock, checked against its SHA-256 before it
# is copied here), on Debian bookworm's Java 17, started as the official image starts it
# (JAVA_OPTS, and STORAGE_TYPE, MEM_MAX_SPANS read by the server itself), with wget for the
# compose file's healthcheck (the official image has BusyBox's).
ARG BASE=merchstore-standin/debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless wget \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --create-home zipkin
COPY zipkin.jar /zipkin/zipkin.jar
USER zipkin
WORKDIR /zipkin
EXPOSE 9411
ENTRYPOINT ["/bin/sh", "-c", "exec java ${JAVA_OPTS} -jar /zipkin/zipkin.jar"]
