#!/bin/sh
# PostgreSQL's start in the deployment (docs/security.md): TLS with the certificate the
# deployment's CA made for "postgres", SCRAM passwords, and the logins pg_hba.conf beside this
# file allows. PostgreSQL refuses a key that others may read, and a Compose secret keeps its
# host file's mode (0644, readable through a private folder), so the key is first copied,
# private to the postgres user; then the image's own entry point runs as usual.
set -eu
mkdir -p /var/lib/postgresql/tls
install -m 0600 -o postgres -g postgres /run/secrets/postgres_key /var/lib/postgresql/tls/server.key
exec docker-entrypoint.sh postgres \
    -c ssl=on \
    -c ssl_cert_file=/run/secrets/postgres_certificate \
    -c ssl_key_file=/var/lib/postgresql/tls/server.key \
    -c password_encryption=scram-sha-256 \
    -c hba_file=/etc/merchstore/postgres/pg_hba.conf
