"""Names vulture reports as unused that are used where it cannot see: read it as a list of why.

`vulture` (configured in pyproject.toml) only parses this file; nothing imports it.
"""
# ruff: noqa: B018

import re2

from bot.alerts.pipeline import Pipeline
from bot.cron import next_fire
from bot.incidents.slackapi import OfflineSlack
from bot.metrics import SlackErrorCounter
from bot.render.slack import ResultBlocks
from bot.status_page import IncidentView, StatusData
from handlers import Client, Registry
from handlers.health.egress import NoCookies
from handlers.k8s.rbac import role_rules

# Overrides that the libraries call.
OfflineSlack.api_call  # slack_sdk's WebClient sends every method through it
SlackErrorCounter.can_retry  # slack_sdk's RetryHandler
SlackErrorCounter._can_retry

# Attributes set on library objects, read by the library.
from sqlite3 import Connection  # noqa: E402

from kubernetes.client import Configuration  # noqa: E402

Configuration.retries  # bot/services.py: one retry per API call
Connection.isolation_level  # bot/store: autocommit, SQLAlchemy manages the transactions

from cheroot.server import HTTPServer  # noqa: E402

HTTPServer.ConnectionClass  # bot/web.py: connections that gather a request before a worker takes it
HTTPServer.max_request_header_size  # bot/web.py: cheroot's own limits, behind bot.httpconn's
HTTPServer.max_request_body_size

# Read by bot/templates/status.html (Jinja).
IncidentView.severity_label
StatusData.worst_severity

# Public API that tests and benchmarks use.
ResultBlocks.omitted  # rows left out of the blocks (bench/k8s_pods.py, tests/unit/test_blocks.py)
Registry.with_handlers  # tests build registries of their own handlers
Client.NONE  # a handler that needs no client (the test registries' handlers)
next_fire  # crontab's weekday meaning, checked in tests/runbooks/test_units.py
role_rules  # deploy/'s RBAC roles are checked against it (tests/integration/k8s/test_k8s_rbac.py)
Pipeline.wait_idle  # tests and bench/alerts.py wait until an alert group's Slack work is done

# RE2's options object: the C extension reads these attributes (handlers/patterns.py).
re2.Options().case_sensitive
re2.Options().log_errors
re2.Options().max_mem
NoCookies.set_cookie  # http.cookiejar calls it for every response (handlers/health/egress.py)
NoCookies.extract_cookies

# PagerDuty's client reads its retry policy from these (bot/oncall/paging.py sets them).
from pagerduty import EventsApiV2Client  # noqa: E402

EventsApiV2Client.max_http_attempts
EventsApiV2Client.max_network_attempts
EventsApiV2Client.sleep_timer

# Who is on call now, for App Home and other surfaces (tests/oncall/test_commands.py).
from bot.oncall.roster import on_call_now  # noqa: E402

on_call_now
