# Stand-in for the official postgres image where no registry can be reached: Debian bookworm's
# PostgreSQL 15, with the official image's entry point variables (POSTGRES_USER,
# POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, POSTGRES_DB, PGDATA) and first start.
ARG BASE=merchstore-standin/debian:bookworm
FROM ${BASE}
# No cluster made by the package: the entry point makes one in PGDATA, as the official image.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends postgresql-common \
    && sed -ri 's/#?create_main_cluster = .*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
    && apt-get install -y -qq --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /var/run/postgresql \
    && chown -R postgres:postgres "$PGDATA" /var/run/postgresql \
    && chmod 700 "$PGDATA"
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
