"""Replication listeners take calls only with `worker_replication_secret`.

The call used is "persist this event", served by every events writer: the
one a forged request would most like to reach. Without an Authorization
header the answer is 401, with a wrong secret 403; with the right secret the
request gets past authentication and is judged on its content (an empty
body is a 400). The public entry point (nginx) never reaches replication.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

import pytest

from tests.e2e import rawhttp
from tests.support.topology import Topology

EVENT_WRITERS = ("persister1", "persister2")


def _persist_event_path() -> str:
    from synapse.replication.endpoints.persist_event import ReplicationPersistEventEndpoint

    return ReplicationPersistEventEndpoint.path(secrets.token_hex(6), event_id="$forged:localhost")


def _call(url: str, authorization: str | None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=b"{}", method="POST")
    req.add_header("Content-Type", "application/json")
    if authorization is not None:
        req.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, json.loads(raw)


@pytest.mark.parametrize("writer", EVENT_WRITERS)
def test_missing_secret_is_401(topology: Topology, writer: str) -> None:
    status, body = _call(topology.replication_url(writer) + _persist_event_path(), None)
    assert (status, body.get("errcode")) == (401, "M_MISSING_TOKEN"), body


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wrong-secret", "Bearer ", "Basic {secret}", "{secret}", "Bearer {secret}x"],
)
def test_wrong_secret_is_403(topology: Topology, authorization: str) -> None:
    header = authorization.format(secret=topology.replication_secret)
    for writer in EVENT_WRITERS:
        status, body = _call(topology.replication_url(writer) + _persist_event_path(), header)
        assert (status, body.get("errcode")) == (403, "M_FORBIDDEN"), (writer, header, body)


def test_right_secret_gets_past_authentication(topology: Topology) -> None:
    for writer in EVENT_WRITERS:
        url = topology.replication_url(writer) + _persist_event_path()
        status, body = _call(url, f"Bearer {topology.replication_secret}")
        # judged on its (empty, so malformed) content, not refused as unauthenticated
        assert (status, body.get("errcode")) == (400, "M_BAD_JSON"), (writer, body)


def test_replication_is_not_reachable_through_nginx(topology: Topology) -> None:
    url = topology.base_url + _persist_event_path()
    req = urllib.request.Request(url, data=b"{}", method="POST")
    req.add_header("Authorization", f"Bearer {topology.replication_secret}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status = resp.status
    except urllib.error.HTTPError as e:
        status = e.code
    assert status == 404


def test_client_listeners_do_not_serve_replication(topology: Topology) -> None:
    for name in ("main", "generic1", "stream_writer"):
        status, body = rawhttp.request(
            "POST", topology.url(name) + _persist_event_path(), body={}, token=topology.replication_secret
        )
        assert (status, body.get("errcode")) == (404, "M_UNRECOGNIZED"), (name, body)
