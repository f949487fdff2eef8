-- Delivery per delivery stream and UTC minute (what the console's delivery monitoring shows),
-- and the recent delivery failures. Workers report through the gateway events stream; the
-- counters add up (deduplicated by event id in applied_gateway_events), freshness keeps the
-- highest value. Rows go with their delivery stream.

CREATE TABLE delivery_metrics (
    delivery_stream_id uuid NOT NULL REFERENCES delivery_streams (id) ON DELETE CASCADE,
    tenant_id          uuid NOT NULL,
    minute             timestamptz NOT NULL CHECK (mod(extract(epoch FROM minute), 60) = 0),
    read_records       bigint NOT NULL DEFAULT 0 CHECK (read_records >= 0),
    read_bytes         bigint NOT NULL DEFAULT 0 CHECK (read_bytes >= 0),
    delivered_records  bigint NOT NULL DEFAULT 0 CHECK (delivered_records >= 0),
    delivered_bytes    bigint NOT NULL DEFAULT 0 CHECK (delivered_bytes >= 0),
    deliveries         bigint NOT NULL DEFAULT 0 CHECK (deliveries >= 0),
    failed_attempts    bigint NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    duplicates         bigint NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
    freshness_ms_max   bigint NOT NULL DEFAULT 0 CHECK (freshness_ms_max >= 0),
    PRIMARY KEY (delivery_stream_id, minute)
);
CREATE INDEX delivery_metrics_minute ON delivery_metrics (minute);

-- The latest failures per delivery stream (the store keeps the newest 100 of each).
CREATE TABLE delivery_failures (
    id                 uuid PRIMARY KEY,
    delivery_stream_id uuid NOT NULL REFERENCES delivery_streams (id) ON DELETE CASCADE,
    tenant_id          uuid NOT NULL,
    occurred_at        timestamptz NOT NULL,
    stage              text NOT NULL CHECK (length(stage) BETWEEN 1 AND 32),
    message            text NOT NULL CHECK (length(message) <= 2048),
    records            bigint NOT NULL CHECK (records >= 0),
    suppressed         bigint NOT NULL DEFAULT 0 CHECK (suppressed >= 0)
);
CREATE INDEX delivery_failures_recent ON delivery_failures (delivery_stream_id, occurred_at DESC);
