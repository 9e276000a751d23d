"""A firing group's runbook diagnostics: once per firing episode, across replicas.

`runbook_for` on the group row holds the episode (its `firing_since`) the runbook ran for; the
compare-and-set that moves it is the claim, so the diagnostics run at most once per episode.
They go to the incident channel when the group has one, else to the thread of the group's
message; params come from the alert labels and the service's config.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_

from bot.alerts import render, routing
from bot.alerts import store as astore
from bot.alerts.config import RouteConfig
from bot.alerts.store import Group, Occurrence
from bot.alerts.tables import alert_groups
from bot.incidents.deps import IncidentDeps
from bot.incidents.records import Incident
from bot.incidents.slackapi import SlackStepError, call

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


def run_once(
    runtime: Runtime,
    desk: IncidentDeps,
    g: Group,
    route: RouteConfig,
    labels: dict[str, str],
    alerts: list[Occurrence],
    inc: Incident | None,
    *,
    default_channel: str,
) -> None:
    from bot.runbooks.commands import catalog_of, run_runbook
    from bot.runbooks.params import ParamError, bind

    name = routing.runbook_name(route, labels, alerts)
    if not name or g.firing_since is None:
        return
    c = alert_groups.c
    won = astore.set_values(
        runtime.store.engine,
        g.id,
        c.firing_since == g.firing_since,
        or_(c.runbook_for.is_(None), c.runbook_for != g.firing_since),
        runbook_for=g.firing_since,
    )
    if not won:
        return
    if inc is not None and inc.channel_id:
        channel, thread = inc.channel_id, ""
    elif g.channel_id and g.message_ts:
        channel, thread = g.channel_id, g.message_ts
    else:
        channel, thread = default_channel, ""
    rb = catalog_of(runtime).get(name)
    problem = ""
    values: dict[str, Any] = {}
    if rb is None:
        problem = f"runbook `{render.escape(name)}` is not available (see /runbook list)"
    else:
        given = routing.runbook_params(list(rb.params), labels, list(runtime.config.services))
        try:
            values = bind(rb, given, runtime.config)
        except ParamError as exc:
            problem = f"runbook `{rb.name}` not run: {render.escape(str(exc))}"
    if problem or rb is None:
        try:
            call(
                desk.web.chat_postMessage,
                channel=channel,
                text=f":warning: {problem}",
                thread_ts=thread or None,
            )
        except SlackStepError as exc:
            log.warning("alert group %s: %s; and could not say so: %s", g.id, problem, exc)
        return
    run_runbook(
        runtime,
        rb,
        values,
        user_id="",
        channel=channel,
        note=f"for alert group {render.escape(render.title_of(g, alerts))}",
        thread_ts=thread,
    )
