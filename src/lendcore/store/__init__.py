"""Storage: database engine, unit of work, metadata and migrations."""
