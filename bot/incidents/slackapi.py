"""Slack Web API calls for incidents: one wrapper that turns every failure into a clear reason.

The WebClient (runtime.slack) already retries 429s, 5xx and dropped connections; what still
fails reaches the user as `SlackStepError`, naming the API method and Slack's error (and the
missing scope when Slack says which one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.metrics import SLACK_API_ERRORS
from handlers.redact import redact

log = logging.getLogger(__name__)


class SlackStepError(Exception):
    def __init__(self, method: str, error: str, *, needed: str | None = None) -> None:
        self.method = method
        self.error = error
        self.needed = needed
        hint = f" (the Slack app needs the `{needed}` scope)" if needed else ""
        super().__init__(f"Slack {method}: {error}{hint}")


P = ParamSpec("P")


class OfflineSlack(WebClient):
    """The client incident code gets in the console without Slack: every call fails, named."""

    def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> SlackResponse:
        del http_verb, files, data, params, json, headers, auth  # WebClient's signature; nothing is sent
        raise SlackStepError(api_method, "not connected to Slack (console mode)")


def call(fn: Callable[P, SlackResponse], *args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
    """`call(slack.chat_postMessage, channel=…)`: a typed WebClient method's answer data; any
    failure raises SlackStepError naming the API method and Slack's reason."""
    method = fn.__name__.replace("_", ".")  # chat_postMessage → chat.postMessage
    try:
        resp = fn(*args, **kwargs)
    except SlackStepError:
        raise
    except SlackApiError as exc:
        data = exc.response.data if exc.response is not None else {}
        error = str(data.get("error", "unknown_error")) if isinstance(data, dict) else "unknown_error"
        needed = data.get("needed") if isinstance(data, dict) else None
        SLACK_API_ERRORS.labels(method, error).inc()
        raise SlackStepError(method, error, needed=needed) from None
    except Exception as exc:  # connection refused, timeout, bad response: name it, never a trace
        SLACK_API_ERRORS.labels(method, type(exc).__name__).inc()
        raise SlackStepError(method, f"Slack unreachable: {redact(str(exc)) or type(exc).__name__}") from None
    return dict(resp.data) if isinstance(resp.data, dict) else {}


def mention(entity: str) -> str:
    """How Slack renders an id: users <@U…>, user groups <!subteam^S…>."""
    if entity.startswith("S"):
        return f"<!subteam^{entity}>"
    if entity.startswith(("U", "W")):
        return f"<@{entity}>"
    return entity


class Names:
    """Display names for topics and files (users.info), cached; the id when Slack will not say."""

    def __init__(self, slack: WebClient | None) -> None:
        self.web = slack if slack is not None else OfflineSlack()
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, user_id: str) -> str:
        with self._lock:
            if user_id in self._cache:
                return self._cache[user_id]
        name = user_id
        try:
            user = call(self.web.users_info, user=user_id).get("user") or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or user.get("name") or profile.get("real_name") or user_id
        except SlackStepError as exc:
            log.info("no display name for %s: %s", user_id, exc)
            return user_id  # not cached: the scope may be granted later
        with self._lock:
            self._cache[user_id] = name
        return name

    def expand_groups(self, entities: list[str]) -> tuple[list[str], list[str]]:
        """User ids for a list of user and group ids, and a reason for each group that failed."""
        users: list[str] = []
        problems: list[str] = []
        for entity in entities:
            if entity.startswith("S"):
                try:
                    users += call(self.web.usergroups_users_list, usergroup=entity).get("users", [])
                except SlackStepError as exc:
                    problems.append(f"user group {entity}: {exc}")
            elif entity.startswith(("U", "W")):
                users.append(entity)
        return list(dict.fromkeys(users)), problems
