-- The audit log: who changed what in a tenant, when, from where, and how it ended.
-- Rows never hold secrets (passwords, tokens, secret keys); `details` is for small, safe context.

CREATE TABLE audit_log (
    -- UUID v7: time-ordered, so (occurred_at, id) is a stable keyset.
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type  text NOT NULL CHECK (actor_type IN ('user', 'access_key', 'operator', 'system')),
    actor_id    text NOT NULL CHECK (length(actor_id) <= 320),
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 128),
    resource    text NOT NULL DEFAULT '' CHECK (length(resource) <= 2048),
    source_ip   text CHECK (length(source_ip) <= 64),
    user_agent  text CHECK (length(user_agent) <= 512),
    outcome     text NOT NULL CHECK (outcome IN ('success', 'failure')),
    error_code  text CHECK (length(error_code) <= 128),
    request_id  text CHECK (length(request_id) <= 128),
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, occurred_at DESC, id DESC);
