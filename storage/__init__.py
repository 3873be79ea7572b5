"""Canonical JSON, content-addressed blobs, the SQLAlchemy index, the ledger and queries."""
