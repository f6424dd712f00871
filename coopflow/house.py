"""The registries of every layer, checked against each other at start.

Each layer has one registry, one line per process: the definitions
(:data:`workflows.processes.DEFINITIONS`), the step handlers
(:data:`workers.steps.PROCESS_STEPS`), the portal pages (:data:`web.portal.PROCESS_PAGES`)
and the staff actions (:data:`admin.processes.PROCESS_ACTIONS`). They must agree: every
step of every definition has a handler, every state where the mandataire acts has a
portal page, every recommended action of a stuck rule is a trigger of its definition or
a declared staff action, every email and document a process declares has its templates,
every timer has its French label.
A missing piece stops the start (app, worker, scheduler, command) with a message that
names it, instead of a case stuck at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from workers.email_messages import template_names
from workers.templating import TEMPLATES
from workflows.engine.definition import DO_TASK, RETRY_STEP, Definition
from workflows.engine.errors import DefinitionError

#: Recommended actions every case page offers, whatever the process.
ENGINE_ACTIONS = frozenset({RETRY_STEP, DO_TASK})


@dataclass(frozen=True)
class House:
    """What the check reads: each layer's registry (the real ones by default)."""

    definitions: Mapping[str, Definition]
    steps: Mapping[str, ModuleType]
    portal: Mapping[str, ModuleType]
    staff: Mapping[str, ModuleType]
    #: Step modules any process uses (notifications): their emails have no process folder.
    shared: tuple[ModuleType, ...] = ()
    templates: Path = TEMPLATES

    @classmethod
    def of(cls, definitions: Mapping[str, Definition] | None = None) -> House:
        """The registries as they are now (``definitions`` replaces the first)."""
        from admin.processes import PROCESS_ACTIONS
        from web.portal import PROCESS_PAGES
        from workers.steps import PROCESS_STEPS, SHARED_STEPS
        from workflows.processes import DEFINITIONS

        if definitions is None or dict(definitions) == DEFINITIONS:
            return cls(DEFINITIONS, PROCESS_STEPS, PROCESS_PAGES, PROCESS_ACTIONS, SHARED_STEPS)
        # Definitions of one's own (tests, the benchmarks): the layers' pieces of those.
        return cls(
            definitions=definitions,
            steps={p: m for p, m in PROCESS_STEPS.items() if p in definitions},
            portal={p: m for p, m in PROCESS_PAGES.items() if p in definitions},
            staff={p: m for p, m in PROCESS_ACTIONS.items() if p in definitions},
            shared=SHARED_STEPS,
        )


def problems(house: House, endpoints: Mapping[str, str] | None = None) -> list[str]:
    """Every disagreement between the registries, in French, each naming its piece.

    ``endpoints``: the app's endpoints and their URL rules, to check the portal's pages
    exist and that a definition's ``portal_path`` is its page's (the app's check);
    without it, the pages are only checked to be declared."""
    found: list[str] = []
    known = set(house.definitions)
    for registry, names in (
        ("workers/steps", house.steps),
        ("web/portal", house.portal),
        ("admin/processes", house.staff),
    ):
        for name in sorted(set(names) - known):
            found.append(f"{registry} enregistre « {name} », qui n'est pas un processus.")
    for definition in house.definitions.values():
        found += _steps(house, definition)
        found += _portal(house, definition, endpoints)
        found += _actions(house, definition)
        found += _labels(definition)
    for process, module in house.steps.items():
        found += _templates(house, process, module)
    for module in house.shared:
        found += _templates(house, None, module)
    return found


def check(house: House | None = None, endpoints: Mapping[str, str] | None = None) -> None:
    """Raise :class:`DefinitionError` listing every missing piece, if any."""
    found = problems(house or House.of(), endpoints)
    if found:
        raise DefinitionError(
            "coopflow ne peut pas démarrer, les registres ne concordent pas :\n- "
            + "\n- ".join(found)
        )


def _steps(house: House, definition: Definition) -> list[str]:
    return [
        f"{definition.name} : l'étape « {step.name} » n'a pas de gestionnaire "
        f"(workers/steps/{definition.name}.py, STEPS)."
        for step in definition.steps
        if step.name not in getattr(house.steps.get(definition.name), "STEPS", {})
    ]


def _portal(house: House, definition: Definition, endpoints: Mapping[str, str] | None) -> list[str]:
    acting = [s for s in definition.states if s.mandataire_action]
    if not acting:
        return []
    module = house.portal.get(definition.name)
    if module is None:
        return [
            f"{definition.name} : le mandataire agit à l'état « {acting[0].name} » mais le "
            f"processus n'a pas de module de portail (web/portal/{definition.name}.py, "
            "enregistré dans web/portal/__init__.py)."
        ]
    pages: Mapping[str, str] = getattr(module, "PAGES", {})
    found = []
    for state in acting:
        endpoint = pages.get(state.name)
        if endpoint is None:
            found.append(
                f"{definition.name} : l'état « {state.name} » (« {state.mandataire_action} ») "
                f"n'a pas de page au portail (PAGES de {module.__name__})."
            )
        elif endpoints is not None and endpoint not in endpoints:
            found.append(
                f"{definition.name} : la page « {endpoint} » de l'état « {state.name} » "
                "n'existe pas dans l'application."
            )
        elif endpoints is not None and definition.portal_path not in (None, endpoints[endpoint]):
            found.append(
                f"{definition.name} : portal_path « {definition.portal_path} » n'est pas "
                f"l'adresse de la page de l'état « {state.name} » ({endpoints[endpoint]})."
            )
    return found


def _actions(house: House, definition: Definition) -> list[str]:
    triggers = {t.trigger for t in definition.transitions}
    module = house.staff.get(definition.name)
    declared: Mapping[str, str] = getattr(module, "ACTIONS", {}) if module else {}
    return [
        f"{definition.name} : l'action recommandée « {rule.action} » ({rule.reason}) n'est ni "
        f"un déclencheur du processus ni une action du personnel déclarée "
        f"(ACTIONS de admin/processes/{definition.name}.py)."
        for rule in definition.stuck_rules
        if rule.action not in triggers | ENGINE_ACTIONS | set(declared)
    ]


def _labels(definition: Definition) -> list[str]:
    """What staff read of a timer (the history, the case's deadlines) is French, never
    its code name."""
    return [
        f"{definition.name} : le minuteur « {timer.name} » n'a pas de libellé "
        "(TimerRule.label, ce qu'en lit l'équipe dans l'historique)."
        for timer in definition.timers
        if not timer.label.strip()
    ]


def _templates(house: House, process: str | None, module: ModuleType) -> list[str]:
    found = []
    owner = process or module.__name__
    for kind in getattr(module, "EMAILS", ()):
        for name in template_names(kind, process):
            if not (house.templates / "emails" / name).is_file():
                found.append(
                    f"{owner} : l'email « {kind} » n'a pas de gabarit "
                    f"(workers/templates/emails/{name})."
                )
    for kind in getattr(module, "DOCUMENTS", ()):
        name = f"{process}/{kind}.html" if process else f"{kind}.html"
        if not (house.templates / "documents" / name).is_file():
            found.append(
                f"{owner} : le document « {kind} » n'a pas de gabarit "
                f"(workers/templates/documents/{name})."
            )
    return found
