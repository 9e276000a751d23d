"""`/prom`: PromQL from Slack (instant and range queries, charts), a service's named metrics
judged against thresholds, Prometheus's own alerts and scrape targets."""
