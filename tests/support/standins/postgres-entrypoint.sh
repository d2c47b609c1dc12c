#!/bin/bash
# The official postgres image's first start, for the stand-in: a new PGDATA is made with
# POSTGRES_USER as its superuser and the password from POSTGRES_PASSWORD(_FILE), POSTGRES_DB is
# created (UTF-8), the scripts in /docker-entrypoint-initdb.d run, and the server listens on
# every address with password (scram-sha-256) logins; then PostgreSQL runs as the postgres user,
# with the command's arguments. Any other command runs as given.
set -euo pipefail

if [ "${1:-}" != postgres ]; then
    exec "$@"
fi
shift

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    user=${POSTGRES_USER:-postgres}
    database=${POSTGRES_DB:-$user}
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        password=$(cat "$POSTGRES_PASSWORD_FILE")
    else
        password=${POSTGRES_PASSWORD:-}
    fi
    if [ -z "$password" ]; then
        echo "error: database is uninitialized and no POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is set" >&2
        exit 1
    fi
    password_file=$(mktemp)
    printf '%s' "$password" > "$password_file"
    chown postgres "$password_file"
    # UTF-8, as the official image's databases (its locale is a UTF-8 one); extra initdb
    # arguments from POSTGRES_INITDB_ARGS, as there.
    # shellcheck disable=SC2086
    as_postgres initdb --username="$user" --pwfile="$password_file" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
        ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
    rm -f "$password_file"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # As the official image: a server on the local socket only, with the command's own
    # settings, makes POSTGRES_DB and runs /docker-entrypoint-initdb.d's scripts in name order.
    temporary=("$@" -c "listen_addresses=")
    as_postgres pg_ctl -D "$PGDATA" -o "$(printf '%q ' "${temporary[@]}")" -w start >/dev/null
    if [ "$database" != postgres ]; then
        as_postgres psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -q \
            -c "CREATE DATABASE \"$database\""
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh)
                echo "running $script"
                as_postgres env POSTGRES_USER="$user" POSTGRES_DB="$database" sh "$script"
                ;;
            *.sql)
                echo "running $script"
                as_postgres psql -v ON_ERROR_STOP=1 --username="$user" --dbname="$database" \
                    -q -f "$script"
                ;;
        esac
    done
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "PostgreSQL init process complete; ready for start up."
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@"
