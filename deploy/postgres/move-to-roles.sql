-- For a volume made before the services had roles of their own (docs/security.md): moves each
-- service's tables from the public schema into its role's schema, hands them to the role, and
-- splits schema_migrations between the two, all in one transaction. Run it as the superuser
-- after merchstore-roles.sh and before the services start.
BEGIN;
DO $$
DECLARE moved record;
BEGIN
    FOR moved IN SELECT * FROM (VALUES
        ('db_service', 'products'), ('db_service', 'users'), ('db_service', 'orders'),
        ('db_service', 'outbox'), ('db_service', 'login_failures'),
        ('db_service', 'order_idempotency_keys'),
        ('storage', 'events'), ('storage', 'dead_letters')
    ) AS tables (owner, name)
    LOOP
        EXECUTE format('ALTER TABLE public.%I SET SCHEMA %I', moved.name, moved.owner);
        EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', moved.owner, moved.name, moved.owner);
    END LOOP;
END $$;
CREATE TABLE db_service.schema_migrations (LIKE public.schema_migrations INCLUDING ALL);
INSERT INTO db_service.schema_migrations
    SELECT * FROM public.schema_migrations WHERE service = 'db-service';
ALTER TABLE db_service.schema_migrations OWNER TO db_service;
CREATE TABLE storage.schema_migrations (LIKE public.schema_migrations INCLUDING ALL);
INSERT INTO storage.schema_migrations
    SELECT * FROM public.schema_migrations WHERE service = 'storage';
ALTER TABLE storage.schema_migrations OWNER TO storage;
DROP TABLE public.schema_migrations;
COMMIT;
