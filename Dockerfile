# One image for every merchstore service: `docker run IMAGE serve store-api`, and so on.
# Build from the repository root: docker build -t merchstore .

# The base images, as build arguments: where no registry can be reached, the test suite builds
# stand-ins from Debian's packages and passes them here (tests/support/docker_engine.py).
ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The browser libraries (Chart.js, Swagger UI), from the npm registry at the versions
# package-lock.json pins.
FROM ${NODE_IMAGE} AS web-assets
WORKDIR /assets
COPY src/merchstore/common/web/package.json src/merchstore/common/web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error && npm run --silent vendor

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m venv /opt/merchstore \
    && /opt/merchstore/bin/pip install --no-cache-dir grpcio-tools==1.85.1
# The dependencies in a layer of their own, from pyproject.toml alone: a source edit does not
# reinstall them. Not the `local` extra: the image never runs the embedded servers.
COPY pyproject.toml ./
RUN /opt/merchstore/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && /opt/merchstore/bin/pip install --no-cache-dir -r /tmp/requirements.txt
COPY README.md ./
COPY protos ./protos
COPY src ./src
COPY --from=web-assets /assets/vendor ./src/merchstore/common/web/vendor
# Generated from protos/ here, never committed (the same command as `make protos`).
RUN /opt/merchstore/bin/python -m grpc_tools.protoc -Iprotos --python_out=src \
        --grpc_python_out=src protos/merchstore/protos/*.proto \
    && /opt/merchstore/bin/pip install --no-cache-dir --no-deps . \
    && /opt/merchstore/bin/pip uninstall --yes grpcio-tools

FROM ${PYTHON_IMAGE}
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
HEALTHCHECK --interval=10s --timeout=15s --start-period=30s --retries=3 \
    CMD ["merchstore", "health"]
ENTRYPOINT ["merchstore"]
CMD ["--help"]
