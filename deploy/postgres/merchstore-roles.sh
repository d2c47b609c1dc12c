#!/bin/sh
# A role per service that stores data, each owning a schema of its own and nothing else
# (docs/security.md): db_service the store's tables, storage the events'. Neither is a
# superuser nor may make databases or roles; no other role may connect to the database or use
# its public schema. The passwords are the secret files postgres_password_<role>; PostgreSQL
# keeps only their SCRAM verifiers.
#
# The image runs it once, when its data directory is new (/docker-entrypoint-initdb.d), as the
# superuser over the local socket. It may run again (it changes nothing but the passwords to the
# files' ones): docker compose exec postgres sh /docker-entrypoint-initdb.d/10-merchstore-roles.sh
# No `set -u` or `exit`: the image sources a script that is not executable.
set -e
passwords=${MERCHSTORE_ROLE_PASSWORDS:-/run/secrets}
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v database="$POSTGRES_DB" \
    -v db_service_password="$(cat "$passwords/postgres_password_db_service")" \
    -v storage_password="$(cat "$passwords/postgres_password_storage")" <<'SQL'
SET password_encryption = 'scram-sha-256';
-- Only the roles granted below connect, and nothing is made or read in the public schema.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Each row's statements, column by column (\gexec, which skips a NULL), for each role and its
-- password: a role made only if missing, its rights and password set whether new or not.
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role)
            THEN format('CREATE ROLE %I', role) END,
       format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB'
              ' NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', role, password),
       format('GRANT CONNECT ON DATABASE %I TO %I', :'database', role),
       format('CREATE SCHEMA IF NOT EXISTS %1$I AUTHORIZATION %1$I', role),
       format('ALTER ROLE %1$I IN DATABASE %2$I SET search_path = %1$I', role, :'database')
  FROM (VALUES ('db_service', :'db_service_password'), ('storage', :'storage_password'))
       AS roles (role, password)
\gexec
SQL
