-- Idempotency keys of POST /api/v1/streams: the stream created under each key.
CREATE TABLE stream_idempotency (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the request, so a reused key with another request is refused.
    request_hash    bytea NOT NULL CHECK (length(request_hash) = 32),
    -- No foreign key: the stream may be deleted while its key is remembered.
    stream_id       uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX stream_idempotency_created ON stream_idempotency (created_at);
