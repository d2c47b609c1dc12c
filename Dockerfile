# One image for every merchstore service: `docker run IMAGE serve store-api`, and so on.
# Build from the repository root: docker build -t merchstore .

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/merchstore \
    && /opt/merchstore/bin/pip install --no-cache-dir grpcio-tools==1.85.1
COPY pyproject.toml README.md ./
COPY protos ./protos
COPY src ./src
# Generated from protos/ here, never committed (the same command as `make protos`).
RUN /opt/merchstore/bin/python -m grpc_tools.protoc -Iprotos --python_out=src \
        --grpc_python_out=src protos/merchstore/protos/*.proto \
    && /opt/merchstore/bin/pip install --no-cache-dir . \
    && /opt/merchstore/bin/pip uninstall --yes grpcio-tools

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --create-home --home-dir /home/merchstore merchstore \
    && mkdir /data && chown 10001 /data
COPY --from=build /opt/merchstore /opt/merchstore
ENV PATH=/opt/merchstore/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MERCHSTORE_DATA_DIR=/data
USER 10001
WORKDIR /home/merchstore
VOLUME ["/data"]
# MERCHSTORE_SERVICE names the service this container runs (set by docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["merchstore", "health"]
ENTRYPOINT ["merchstore"]
CMD ["--help"]
