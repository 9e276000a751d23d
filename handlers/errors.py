"""Errors a handler raises so the user reads a clear message, never a stack trace."""

from __future__ import annotations


class HandlerError(Exception):
    """A failure the user can act on. The message names the target and the cause."""


class TargetUnavailable(HandlerError):
    """The cluster, database, cache or URL did not answer (refused, timed out, DNS)."""


class NotFound(HandlerError):
    """The object the user named does not exist."""


class Forbidden(HandlerError):
    """The bot's own credentials lack a permission; the message names which."""


class InvalidRequest(HandlerError):
    """The parameters passed validation but make no sense against the live target."""


class TargetMoved(HandlerError):
    """The target changed since the preview that was confirmed; nothing was run."""
