"""The payments API, mounted at /api/v1/payments/ (CONTRACTS §3)."""
