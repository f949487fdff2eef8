-- Record traffic per stream and UTC minute, for the console's monitoring charts (ADR 013).
-- Counters are additive: the gateways send what they counted since their last flush, REST
-- puts and reads add their own. Keyed by stream id, so a stream deleted and created again
-- under the same name starts from nothing; the rows go with the stream.

CREATE TABLE stream_metrics (
    stream_id           uuid NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    tenant_id           uuid NOT NULL,
    -- The start of the minute (whole minutes only).
    minute              timestamptz NOT NULL CHECK (mod(extract(epoch FROM minute), 60) = 0),
    incoming_records    bigint NOT NULL DEFAULT 0 CHECK (incoming_records >= 0),
    incoming_bytes      bigint NOT NULL DEFAULT 0 CHECK (incoming_bytes >= 0),
    outgoing_records    bigint NOT NULL DEFAULT 0 CHECK (outgoing_records >= 0),
    outgoing_bytes      bigint NOT NULL DEFAULT 0 CHECK (outgoing_bytes >= 0),
    iterator_age_ms_max bigint NOT NULL DEFAULT 0 CHECK (iterator_age_ms_max >= 0),
    PRIMARY KEY (stream_id, minute)
);
-- Pruning past the retention (15 days) walks this.
CREATE INDEX stream_metrics_minute ON stream_metrics (minute);

-- Gateway events whose effect is not idempotent by itself (metrics add up), applied in the
-- transaction that wrote them: a redelivered event finds its id here and changes nothing.
-- Kept a little longer than the events stream keeps an event (24 h).
CREATE TABLE applied_gateway_events (
    event_id   uuid PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applied_gateway_events_applied_at ON applied_gateway_events (applied_at);
