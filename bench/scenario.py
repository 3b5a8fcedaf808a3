"""What a scenario is, and the registry ``python -m bench`` runs them from.

A scenario is a module under ``bench/scenarios/`` (or anywhere: see ``register`` and
``PLUGINS``) that builds a ``Scenario``: a name, its options, a ``run`` that drives a real
server and returns its result (one entry per repeat under ``runs`` and their leaf-by-leaf
``median``), and ``tables`` that turn a stored result back into readable tables for the
terminal, the Markdown file and ``bench/results/README.md``.
"""

import argparse
import importlib
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.server import ScratchDatabase, Server

Table = tuple[str, list[str], list[list[str]]]  # title, headers, rows of cells
Result = dict[str, Any]

BUILT_IN = ("connections", "ws_messages", "rest_messages", "auth", "history", "soak", "cluster")
# Modules that may provide more scenarios: one whose source defines a module-level
# ``SCENARIO = Scenario(...)`` is imported and registered; a missing one, or a plain script
# that does not (and may run things when imported), is left alone. (``bench/cluster.py``, the
# stand-alone script that splits deliveries across and within workers, is such a script.)
PLUGINS = ("bench.cluster",)


@dataclass(frozen=True)
class Context:
    """The options every scenario shares."""

    database: str  # sqlite | postgres
    admin_url: str | None  # PostgreSQL server for scratch databases (None: the default)
    repeats: int
    mode: str  # default | quick | tiny
    output_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)
    profile: bool = False

    @property
    def quick(self) -> bool:
        return self.mode in ("quick", "tiny")

    def pick(self, default: Any, quick: Any, tiny: Any) -> Any:
        """The value for this mode."""
        return {"default": default, "quick": quick, "tiny": tiny}[self.mode]

    @contextmanager
    def server(
        self,
        *,
        env: dict[str, str] | None = None,
        template: str | Path | None = None,
        prepare: Callable[[str], Any] | None = None,
        pin: bool = True,
    ) -> Iterator[tuple[Server, Any]]:
        """A scratch database (``prepare(url)`` seeds it) and a server on it, both removed
        afterwards. Yields the server and what ``prepare`` returned.

        ``env`` adds server settings (say ``GKCHAT_WORKERS`` and ``GKCHAT_HUB_URL`` for a
        scale-out scenario, which would also pass ``pin=False``: CPU, memory and descriptors
        are then summed over the worker processes)."""
        with ScratchDatabase(self.database, admin_url=self.admin_url) as database:
            database.create(template=template)
            prepared = prepare(database.url) if prepare is not None else None
            profile = None
            if self.profile:
                self.output_dir.mkdir(parents=True, exist_ok=True)
                profile = self.output_dir / f"profile-{database.name}.txt"
            with Server(database, env=env, profile=profile, pin=pin) as server:
                yield server, prepared


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: Callable[[argparse.Namespace, Context], Result]
    tables: Callable[[Result], list[Table]]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda _parser: None
    # Headline figures for bench/results/README.md: label -> cell.
    headline: Callable[[Result], dict[str, str]] = lambda _result: {}
    plot: Callable[[Result, Path], bool] | None = None
    # Scenarios that need something more than one server process (say, Redis) say so here.
    databases: tuple[str, ...] = ("sqlite", "postgres")
    # False: only run by name (``python -m bench soak``), never by ``all``.
    in_all: bool = True


SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    SCENARIOS[scenario.name] = scenario
    return scenario


def load() -> dict[str, Scenario]:
    """Every built-in scenario, then any plug-in that is present."""
    for name in BUILT_IN:
        register(importlib.import_module(f"bench.scenarios.{name}").SCENARIO)
    for name in PLUGINS:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        try:
            source = Path(spec.origin).read_text()
        except OSError:
            continue
        if "\nSCENARIO = " not in source:
            continue
        module = importlib.import_module(name)
        scenario = getattr(module, "SCENARIO", None)
        if isinstance(scenario, Scenario):
            register(scenario)
    return SCENARIOS
