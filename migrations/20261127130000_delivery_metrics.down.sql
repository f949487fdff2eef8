DROP TABLE delivery_failures;
DROP TABLE delivery_metrics;
