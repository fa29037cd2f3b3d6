"""The endpoint table agrees with the workers documentation's generic_worker list.

Every route we let generic workers serve must be one the documentation lets
an operator route to a generic worker (with the same method and stickiness
rules), and every implemented endpoint the documentation lists must be
servable by generic workers, so an operator's existing nginx config works.
"""

import re
from pathlib import Path

import pytest

from synapse.routes import Route, build_routes

METHODS = ("GET", "PUT", "POST", "DELETE")


def _doc_rules() -> list[tuple[str, re.Pattern[str]]]:
    rules = []
    for line in (Path(__file__).parent / "generic_worker_endpoints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            kind, regex = line.split(" ", 1)
            rules.append((kind, re.compile(regex)))
    return rules


def _sample_paths(pattern: re.Pattern[str]) -> list[str]:
    """Concrete paths a route pattern matches: each parameter filled with a sample."""
    source = pattern.pattern.strip("^$")
    source = re.sub(r"\(\?:/\(\?P<\w+>\[\^/\]\*\)\)\?", "/sk", source)  # optional state key
    paths = [source]
    alternation = re.compile(r"\(\?P<\w+>([\w|]+)\)")
    while any(alternation.search(p) for p in paths):
        expanded = []
        for p in paths:
            m = alternation.search(p)
            if m is None:
                expanded.append(p)
                continue
            expanded += [p[: m.start()] + choice + p[m.end() :] for choice in m.group(1).split("|")]
        paths = expanded
    paths = [re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "x1", p) for p in paths]
    for p in paths:
        assert pattern.match(p), (pattern.pattern, p)
    return paths


def _methods(route: Route) -> list[str]:
    return [m for m in METHODS if hasattr(route.servlet, f"on_{m}")]


def _doc_allows(path: str, method: str, rules) -> "str | None":
    for kind, regex in rules:
        if regex.match(path) and (kind != "GET" or method == "GET"):
            return kind
    return None


CLIENT_ROUTES = [r for r in build_routes() if r.resource == "client"]


@pytest.mark.parametrize("route", CLIENT_ROUTES, ids=lambda r: r.servlet.__name__)
def test_route_placement_matches_the_workers_doc(route: Route) -> None:
    rules = _doc_rules()
    for pattern in route.servlet.PATTERNS:
        for path in _sample_paths(pattern):
            for method in _methods(route):
                kind = _doc_allows(path, method, rules)
                if route.runs_on == "generic":
                    assert kind is not None, f"{method} {path} runs on generic workers but the doc does not list it"
                    if kind == "room":
                        assert route.sticky_by == "room", f"{path}: the doc requires one instance per room"
                    if any(k == "stream" and r.match(path) for k, r in rules):
                        assert route.stream is not None, f"{path}: the doc routes it to a stream writer"
                elif path.startswith("/_matrix/client/"):
                    assert kind is None, f"{method} {path} is in the doc's generic_worker list but runs on main only"


def test_sync_is_sticky_by_user() -> None:
    sync = [r for r in CLIENT_ROUTES if any(p.match("/_matrix/client/v3/sync") for p in r.servlet.PATTERNS)]
    assert len(sync) == 1 and sync[0].runs_on == "generic" and sync[0].sticky_by == "user"


def test_every_doc_rule_parses_and_the_table_covers_core_endpoints() -> None:
    rules = _doc_rules()
    assert len(rules) >= 70
    served = [p for r in CLIENT_ROUTES if r.runs_on == "generic" for p in r.servlet.PATTERNS]
    for path in ("/_matrix/client/v3/sync", "/_matrix/client/v3/rooms/x1/send/m.room.message/t1",
                 "/_matrix/client/v3/createRoom", "/_matrix/client/v3/login",
                 "/_matrix/client/v3/rooms/x1/messages"):
        assert any(p.match(path) for p in served), path
