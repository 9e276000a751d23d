"""Runbooks as data: YAML files in `runbooks/`, validated at load, run step by step.

model (the schema) · loader (YAML with lines) · validate (against the handler registry) ·
template (`{{ param }}`) · params (typed values) · resolve (a step → handler params) ·
checks (thresholds) · engine (concurrent diagnostics) · progress (the Slack message) ·
catalog (files on disk, reloaded when they change) · commands (`/runbook`) · schedule (cron).
"""
