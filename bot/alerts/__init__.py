"""Alerts in, incidents out: Alertmanager/Grafana webhooks, routes, grouping, silences, watches.

`bot.alerts.wiring.register(runtime)` (called by `bot.app`) builds the pipeline; `bot.web` serves
the endpoints from `bot.alerts.web.routes`. Nothing here runs at import.
"""
