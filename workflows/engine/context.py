"""What a transaction reads of its engine: the definitions, the clock, the step timing.

A protocol, so that the unit of work does not import the engine that opens it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from workflows.engine.clock import Clock
from workflows.engine.definition import Definition
from workflows.engine.timing import StepTiming


class EngineContext(Protocol):
    @property
    def clock(self) -> Clock: ...
    @property
    def timing(self) -> StepTiming: ...
    @property
    def definitions(self) -> Mapping[str, Definition]: ...
    @property
    def dependents(self) -> Mapping[tuple[str, str], list[Definition]]: ...

    def definition(self, process: str) -> Definition: ...
