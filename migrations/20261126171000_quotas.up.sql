-- Per-tenant quotas beyond shards and on-demand streams (ADR 010), and the publication of a
-- tenant's write throughput quota to the config bucket, where the gateways read it.
--
-- Counts are checked with the tenant's row locked (SELECT ... FOR UPDATE), so concurrent
-- creates cannot pass a limit. A throughput quota of NULL means unlimited.

ALTER TABLE tenants
    ADD COLUMN stream_limit             integer NOT NULL DEFAULT 500 CHECK (stream_limit >= 0),
    ADD COLUMN delivery_stream_limit    integer NOT NULL DEFAULT 50 CHECK (delivery_stream_limit >= 0),
    ADD COLUMN app_limit                integer NOT NULL DEFAULT 50 CHECK (app_limit >= 0),
    ADD COLUMN write_records_per_second bigint CHECK (write_records_per_second > 0),
    ADD COLUMN write_bytes_per_second   bigint CHECK (write_bytes_per_second > 0),
    -- Desired state (generation) versus what the config bucket holds (published_generation).
    ADD COLUMN generation               bigint NOT NULL DEFAULT 1,
    ADD COLUMN published_generation     bigint NOT NULL DEFAULT 0;

CREATE INDEX tenants_unpublished ON tenants (id) WHERE generation <> published_generation;
