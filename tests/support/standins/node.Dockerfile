# Stand-in for node:20-bookworm-slim where no registry can be reached: Debian bookworm's own
# Node.js and npm.
ARG BASE=merchstore-standin/debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# This machine's certificate authorities, so that npm inside a build reaches the registry.
COPY host-ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
