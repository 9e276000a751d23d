"""Wire the alert pipeline and the watches into a runtime (called once by `bot.app.build_runtime`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.alerts.pipeline import Pipeline
from bot.alerts.watches import Watches

if TYPE_CHECKING:
    from bot.runtime import Runtime


def register(runtime: Runtime) -> Pipeline:
    pipeline = Pipeline(runtime)
    runtime.extras["alerts.pipeline"] = pipeline
    watches = Watches(runtime, pipeline)
    runtime.extras["alerts.watches"] = watches
    if runtime.scheduler is not None:
        runtime.scheduler.add("alerts.sweep", pipeline.sweep)
        runtime.scheduler.add("alerts.watches", watches)
    if runtime.slack is not None:
        pipeline.start()  # the sweep thread (only with Slack: the console posts nothing)
    return pipeline


def stop(runtime: Runtime) -> None:
    """At shutdown, after the HTTP server stopped: let the group work in flight finish, close the
    webhooks' own database pool. What is left is in the store; any replica's sweep finishes it."""
    pipeline = runtime.extras.get("alerts.pipeline")
    if isinstance(pipeline, Pipeline):
        pipeline.stop()
    engine = runtime.extras.pop("alerts.engine", None)
    if engine is not None and engine is not runtime.store.engine:
        engine.dispose()
