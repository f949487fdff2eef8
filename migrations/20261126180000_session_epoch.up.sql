-- A user's session epoch: every access token carries the epoch it was issued in, and a
-- password change or reset moves the epoch on, so access tokens issued before it stop working
-- at once instead of living out their 15 minutes.
ALTER TABLE users ADD COLUMN session_epoch integer NOT NULL DEFAULT 0 CHECK (session_epoch >= 0);
