-- The spine: tenants, their access keys, streams and shards.
-- Every row of tenant data carries tenant_id, and every query for it is scoped by tenant.

CREATE TABLE tenants (
    id                     uuid PRIMARY KEY,
    name                   text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    account_id             char(12) NOT NULL UNIQUE CHECK (account_id ~ '^[0-9]{12}$'),
    shard_limit            integer NOT NULL CHECK (shard_limit >= 0),
    on_demand_stream_limit integer NOT NULL CHECK (on_demand_stream_limit >= 0),
    created_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE access_keys (
    access_key_id        text PRIMARY KEY CHECK (access_key_id ~ '^[A-Z0-9]{16,128}$'),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- AES-256-GCM under a key derived from the master key; never the plain secret.
    sealed_secret        text NOT NULL,
    enabled              boolean NOT NULL DEFAULT true,
    description          text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_used_at         timestamptz,
    -- Desired state (generation) versus what the config bucket holds (published_generation).
    generation           bigint NOT NULL DEFAULT 1,
    published_generation bigint NOT NULL DEFAULT 0
);
CREATE INDEX access_keys_tenant ON access_keys (tenant_id);
CREATE INDEX access_keys_unpublished ON access_keys (access_key_id) WHERE generation <> published_generation;

CREATE TABLE streams (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                 text NOT NULL CHECK (name ~ '^[a-zA-Z0-9_.-]{1,128}$'),
    mode                 text NOT NULL CHECK (mode IN ('PROVISIONED', 'ON_DEMAND')),
    status               text NOT NULL CHECK (status IN ('CREATING', 'DELETING', 'ACTIVE', 'UPDATING')),
    retention_hours      integer NOT NULL CHECK (retention_hours BETWEEN 24 AND 8760),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    generation           bigint NOT NULL DEFAULT 1,
    published_generation bigint NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name)
);
CREATE INDEX streams_pending ON streams (id) WHERE status <> 'ACTIVE' OR generation <> published_generation;

CREATE TABLE shards (
    stream_id                   uuid NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    tenant_id                   uuid NOT NULL,
    shard_index                 integer NOT NULL CHECK (shard_index >= 0),
    -- Decimal 128-bit integers as Kinesis shows them.
    starting_hash_key           text NOT NULL CHECK (starting_hash_key ~ '^[0-9]{1,39}$'),
    ending_hash_key             text NOT NULL CHECK (ending_hash_key ~ '^[0-9]{1,39}$'),
    parent_shard_index          integer,
    adjacent_parent_shard_index integer,
    starting_sequence_number    text NOT NULL,
    ending_sequence_number      text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, shard_index)
);
CREATE INDEX shards_tenant ON shards (tenant_id);

CREATE TABLE stream_tags (
    stream_id uuid NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL,
    key       text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    value     text NOT NULL DEFAULT '' CHECK (length(value) <= 256),
    PRIMARY KEY (stream_id, key)
);
