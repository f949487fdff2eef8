-- User management over REST: invitations (a one-time token, stored as its SHA-256 only) and the
-- idempotency keys of POST /api/v1/invitations. Membership changes need no new columns.

CREATE TABLE invitations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Stored lower-cased, like users.email.
    email       text NOT NULL
                CHECK (length(email) <= 254
                       AND email = lower(email)
                       AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    -- SHA-256 of the token handed out once; never the token itself.
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  timestamptz,
    CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
-- Keyset pagination of a tenant's open invitations, and finding an email's open ones.
CREATE INDEX invitations_tenant_created ON invitations (tenant_id, created_at, id)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_tenant_email ON invitations (tenant_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Idempotency keys of POST /api/v1/invitations: the invitation created, never its token.
CREATE TABLE invitation_idempotency (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the request, so a reused key with another request is refused.
    request_hash    bytea NOT NULL CHECK (length(request_hash) = 32),
    -- No foreign key: the claim is taken before the invitation row is written.
    invitation_id   uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX invitation_idempotency_created ON invitation_idempotency (created_at);

-- Keyset pagination of a tenant's members.
CREATE INDEX memberships_tenant_created ON memberships (tenant_id, created_at, user_id);
