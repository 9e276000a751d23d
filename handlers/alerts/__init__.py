"""`/alerts` handlers: silences on Alertmanager (its URL comes from chatops.yaml, never from chat)."""
