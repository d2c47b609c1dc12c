# Stand-in for prom/prometheus where no registry can be reached: Debian bookworm's Prometheus,
# with the official image's entry point, flags, user (nobody) and storage at /prometheus, and
# wget for the compose file's healthcheck (the official image has BusyBox's).
ARG BASE=merchstore-standin/debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends prometheus wget \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus /etc/prometheus \
    && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
