-- A tenant's registered buckets: where `arn:aws:s3:::<name>` of that tenant really lives
-- (S3 or S3-compatible, GCS, Azure). Delivery streams name buckets; an unregistered name is
-- the embedded local filesystem store.

CREATE TABLE buckets (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The name delivery streams use in BucketARN (an S3 bucket name).
    name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
    kind        text NOT NULL CHECK (kind IN ('s3', 'gcs', 'azure')),
    -- fjord_common::buckets::BucketLocation, secrets sealed (bound to the id).
    location    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
