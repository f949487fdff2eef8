-- Delivery streams (Firehose): desired state in Postgres, records in one JetStream stream each,
-- the normalised spec published to the config bucket for gateways and delivery workers.

CREATE TABLE delivery_streams (
    id                      uuid PRIMARY KEY,
    tenant_id               uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                    text NOT NULL CHECK (name ~ '^[a-zA-Z0-9_.-]{1,64}$'),
    status                  text NOT NULL
                            CHECK (status IN ('CREATING', 'CREATING_FAILED', 'DELETING', 'DELETING_FAILED', 'ACTIVE')),
    delivery_stream_type    text NOT NULL CHECK (delivery_stream_type IN ('DirectPut', 'KinesisStreamAsSource')),
    -- The Kinesis data stream a KinesisStreamAsSource reads; NULL once that stream is gone.
    source_stream_id        uuid REFERENCES streams (id) ON DELETE SET NULL,
    -- KinesisStreamSourceConfiguration as given (KinesisStreamARN, RoleARN), for Describe.
    source_configuration    jsonb,
    -- The destination as the caller configured it, in AWS's shape, for Describe round-trips.
    destination_configuration jsonb NOT NULL,
    -- fjord_common::firehose::DestinationSpec: what the data plane acts on.
    destination_spec        jsonb NOT NULL,
    destination_id          text NOT NULL DEFAULT 'destinationId-000000000001',
    -- Firehose's VersionId: 1 at creation, bumped by every UpdateDestination.
    version_id              bigint NOT NULL DEFAULT 1 CHECK (version_id >= 1),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    -- Desired state (generation) versus what the config bucket holds (published_generation).
    generation              bigint NOT NULL DEFAULT 1,
    published_generation    bigint NOT NULL DEFAULT 0,
    -- Rows are removed once deleted, so a DELETING stream still holds its name, as on AWS.
    UNIQUE (tenant_id, name),
    CHECK ((delivery_stream_type = 'KinesisStreamAsSource') = (source_configuration IS NOT NULL))
);
CREATE INDEX delivery_streams_pending ON delivery_streams (updated_at)
    WHERE status IN ('CREATING', 'DELETING') OR generation <> published_generation;
CREATE INDEX delivery_streams_source ON delivery_streams (source_stream_id) WHERE source_stream_id IS NOT NULL;

CREATE TABLE delivery_stream_tags (
    delivery_stream_id uuid NOT NULL REFERENCES delivery_streams (id) ON DELETE CASCADE,
    tenant_id          uuid NOT NULL,
    key                text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    value              text NOT NULL DEFAULT '' CHECK (length(value) <= 256),
    PRIMARY KEY (delivery_stream_id, key)
);
CREATE INDEX delivery_stream_tags_tenant ON delivery_stream_tags (tenant_id);

-- Idempotency keys of POST /api/v1/delivery-streams: the delivery stream created under each key.
CREATE TABLE delivery_stream_idempotency (
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idempotency_key    text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash       bytea NOT NULL CHECK (length(request_hash) = 32),
    -- No foreign key: the delivery stream may be deleted while its key is remembered.
    delivery_stream_id uuid NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX delivery_stream_idempotency_created ON delivery_stream_idempotency (created_at);
