-- A tenant's catalog: the tables whose columns format conversion (Firehose's
-- DataFormatConversionConfiguration) writes Parquet with, named as Glue names them
-- (SchemaConfiguration's DatabaseName and TableName). ADR 017.

CREATE TABLE catalog_tables (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    database_name text NOT NULL CHECK (database_name ~ '^[a-z0-9_]{1,255}$'),
    table_name    text NOT NULL CHECK (table_name ~ '^[a-z0-9_]{1,255}$'),
    -- [{"name": …, "type": …}] (fjord_common::firehose::Column), in order.
    columns       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, database_name, table_name)
);
