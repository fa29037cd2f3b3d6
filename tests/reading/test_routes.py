"""The reading endpoints in the endpoint table: every path the worker
documentation routes to generic workers is served by a generic route, with
/sync sticky by user and /messages sticky by room."""

import pytest

from synapse.routes import Route, build_routes

# sample request paths for the reading lines of the worker routing list
GENERIC_PATHS = [
    "/_matrix/client/v3/sync",
    "/_matrix/client/r0/sync",
    "/_matrix/client/api/v1/events",
    "/_matrix/client/v3/events",
    "/_matrix/client/api/v1/initialSync",
    "/_matrix/client/v3/initialSync",
    "/_matrix/client/r0/rooms/!r:hs/initialSync",
    "/_matrix/client/v3/rooms/!r:hs/joined_members",
    "/_matrix/client/unstable/rooms/!r:hs/context/$e",
    "/_matrix/client/api/v1/rooms/!r:hs/members",
    "/_matrix/client/v3/rooms/!r:hs/event/$e",
    "/_matrix/client/v3/joined_rooms",
    "/_matrix/client/v3/user/@u:hs/filter",
    "/_matrix/client/unstable/user/@u:hs/filter/3",
    "/_matrix/client/v3/rooms/!r:hs/messages",
]


def _route_for(path: str) -> Route:
    matches = [r for r in build_routes() if any(p.match(path) for p in r.servlet.PATTERNS)]
    assert len(matches) == 1, (path, matches)
    return matches[0]


@pytest.mark.parametrize("path", GENERIC_PATHS)
def test_reading_paths_run_on_generic_workers(path: str) -> None:
    route = _route_for(path)
    assert route.runs_on == "generic" and route.resource == "client"


def test_stickiness() -> None:
    assert _route_for("/_matrix/client/v3/sync").sticky_by == "user"
    assert _route_for("/_matrix/client/v3/events").sticky_by == "user"
    assert _route_for("/_matrix/client/v3/rooms/!r:hs/messages").sticky_by == "room"
    assert _route_for("/_matrix/client/v3/rooms/!r:hs/context/$e").sticky_by is None


def test_legacy_event_by_id_stays_on_main() -> None:
    assert _route_for("/_matrix/client/v3/events/$e").runs_on == "main"
