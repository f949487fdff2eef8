DROP TABLE stream_tags;
DROP TABLE shards;
DROP TABLE streams;
DROP TABLE access_keys;
DROP TABLE tenants;
