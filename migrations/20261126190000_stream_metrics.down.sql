DROP TABLE IF EXISTS applied_gateway_events;
DROP TABLE IF EXISTS stream_metrics;
