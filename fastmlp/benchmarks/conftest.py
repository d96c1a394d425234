"""The suites' pytest options: ``--contender NAME`` keeps one contender's benchmarks (``fastmlp
bench`` runs each in its own process) and ``--list-contenders PATH`` writes, as JSON, the
contenders of the selected benchmarks. Every benchmark must name its contender."""

from __future__ import annotations

import json

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fastmlp bench")
    group.addoption("--contender", metavar="NAME", help="run only this contender's benchmarks")
    group.addoption("--list-contenders", metavar="PATH", help="write the selected benchmarks' contenders here")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contender(name): the implementation a benchmark times (its process)")


def contender_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("contender")
    if marker is None:
        raise pytest.UsageError(f"{item.nodeid} names no contender (@pytest.mark.contender)")
    return str(marker.args[0])


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    names = [contender_of(item) for item in items]
    listing = config.getoption("--list-contenders")
    if listing:
        with open(listing, "w") as fh:
            json.dump(sorted(set(names), key=names.index), fh)
    wanted = config.getoption("--contender")
    if wanted:
        dropped = [item for item, name in zip(items, names) if name != wanted]
        items[:] = [item for item, name in zip(items, names) if name == wanted]
        config.hook.pytest_deselected(items=dropped)
