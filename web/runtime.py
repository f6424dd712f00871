"""Access to the process's Runtime from inside a request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from coopflow.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["coopflow"]  # type: ignore[no-any-return]
