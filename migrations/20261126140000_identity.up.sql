-- Identity: users, their memberships in tenants, refresh tokens and sign-in rate limiting.
-- Secrets are never stored: passwords as argon2id PHC strings, refresh tokens as SHA-256.

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    -- Stored lower-cased, so uniqueness is case-insensitive.
    email               text NOT NULL UNIQUE
                        CHECK (length(email) <= 254
                               AND email = lower(email)
                               AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    password_hash       text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    is_operator         boolean NOT NULL DEFAULT false,
    disabled            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX memberships_tenant ON memberships (tenant_id);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- SHA-256 of the opaque token handed to the client; never the token itself.
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    -- The token this one was rotated into; set together with revoked_at.
    replaced_by uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL
);
CREATE INDEX refresh_tokens_user_tenant ON refresh_tokens (user_id, tenant_id);
CREATE INDEX refresh_tokens_tenant ON refresh_tokens (tenant_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Failed sign-ins per key ('email:<email>', 'addr:<ip>') in a fixed window, shared by every
-- control-plane process.
CREATE TABLE sign_in_failures (
    key          text PRIMARY KEY CHECK (length(key) <= 300),
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL CHECK (failures >= 0)
);
