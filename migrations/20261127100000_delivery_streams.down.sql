DROP TABLE delivery_stream_idempotency;
DROP TABLE delivery_stream_tags;
DROP TABLE delivery_streams;
