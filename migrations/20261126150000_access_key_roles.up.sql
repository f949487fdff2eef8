-- Access keys as a managed resource: each carries a role, may belong to a user (NULL: a tenant
-- service-account key), and is deleted through a tombstone so the reconciler can take it out
-- of the config bucket before the row goes.

ALTER TABLE access_keys
    ADD COLUMN role       text NOT NULL DEFAULT 'developer'
                          CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    ADD COLUMN user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    -- Set by a delete: the reconciler purges the key from the config bucket, then drops the row.
    ADD COLUMN deleted_at timestamptz;

-- Keys made before roles existed (a tenant's first key) keep the power they had. The bumped
-- generation republishes them with their role.
UPDATE access_keys SET role = 'owner', generation = generation + 1;

-- Keyset pagination of a tenant's keys.
CREATE INDEX access_keys_tenant_created ON access_keys (tenant_id, created_at, access_key_id);
CREATE INDEX access_keys_user ON access_keys (user_id) WHERE user_id IS NOT NULL;

-- Idempotency keys of POST /api/v1/keys: the key id created, never its secret.
CREATE TABLE access_key_idempotency (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the request, so a reused key with another request is refused.
    request_hash    bytea NOT NULL CHECK (length(request_hash) = 32),
    access_key_id   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX access_key_idempotency_created ON access_key_idempotency (created_at);
