"""HTTP handlers (`/health`), split by concern; `handlers.load_all` imports them all.

common   URL checking, one bounded fetch, failures named (DNS, refused, TLS, timeout)
health   health.check: service, all or URL, judged by the seeds' thresholds
inspect  health.headers (curl -I) and health.metrics (Prometheus text)
"""
