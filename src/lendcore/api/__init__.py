"""HTTP API (FastAPI): one router per module, one error shape, idempotent POSTs."""
