DROP INDEX IF EXISTS memberships_tenant_created;
DROP TABLE IF EXISTS invitation_idempotency;
DROP TABLE IF EXISTS invitations;
