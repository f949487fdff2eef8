DROP TABLE access_key_idempotency;
DROP INDEX access_keys_user;
DROP INDEX access_keys_tenant_created;
-- Tombstoned keys were on their way out; finish the job.
DELETE FROM access_keys WHERE deleted_at IS NOT NULL;
ALTER TABLE access_keys DROP COLUMN deleted_at, DROP COLUMN user_id, DROP COLUMN role;
