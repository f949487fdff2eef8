DROP TABLE stream_idempotency;
