# Stand-in for python:3.11-slim-bookworm where no registry can be reached: Debian bookworm's
# own Python 3.11, at the path the official image has it (/usr/local/bin/python).
ARG BASE=merchstore-standin/debian:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && ln -s /usr/bin/python3 /usr/local/bin/python3
# This machine's certificate authorities (a TLS-intercepting proxy's among them), so that pip
# inside a build reaches PyPI.
COPY host-ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
