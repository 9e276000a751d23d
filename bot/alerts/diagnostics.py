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
    from bot.runbooks.model import Runbook
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
    from bot.runbooks.commands import run_runbook

    name = routing.runbook_name(route, labels, alerts)
    if not name or g.firing_since is None:
        return
    if not _claim(runtime, g):
        return
    channel, thread = _destination(g, inc, default_channel)
    rb, values, problem = _bound(runtime, name, labels)
    if problem or rb is None:
        _say_problem(desk, g, channel, thread, problem)
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


def _claim(runtime: Runtime, g: Group) -> bool:
    """Move `runbook_for` to this episode: whoever does runs the diagnostics."""
    c = alert_groups.c
    return astore.set_values(
        runtime.store.engine,
        g.id,
        c.firing_since == g.firing_since,
        or_(c.runbook_for.is_(None), c.runbook_for != g.firing_since),
        runbook_for=g.firing_since,
    )


def _destination(g: Group, inc: Incident | None, default_channel: str) -> tuple[str, str]:
    """(channel, thread): the incident channel, else the group message's thread, else the default."""
    if inc is not None and inc.channel_id:
        return inc.channel_id, ""
    if g.channel_id and g.message_ts:
        return g.channel_id, g.message_ts
    return default_channel, ""


def _bound(runtime: Runtime, name: str, labels: dict[str, str]) -> tuple[Runbook | None, dict[str, Any], str]:
    """The runbook and its bound params, or a problem to tell instead."""
    from bot.runbooks.commands import catalog_of
    from bot.runbooks.params import ParamError, bind

    rb = catalog_of(runtime).get(name)
    if rb is None:
        return None, {}, f"runbook `{render.escape(name)}` is not available (see /runbook list)"
    given = routing.runbook_params(list(rb.params), labels, list(runtime.config.services))
    try:
        return rb, bind(rb, given, runtime.config), ""
    except ParamError as exc:
        return rb, {}, f"runbook `{rb.name}` not run: {render.escape(str(exc))}"


def _say_problem(desk: IncidentDeps, g: Group, channel: str, thread: str, problem: str) -> None:
    try:
        call(
            desk.web.chat_postMessage,
            channel=channel,
            text=f":warning: {problem}",
            thread_ts=thread or None,
        )
    except SlackStepError as exc:
        log.warning("alert group %s: %s; and could not say so: %s", g.id, problem, exc)
