DROP TABLE catalog_tables;
