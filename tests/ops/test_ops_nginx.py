"""The nginx config generator: structure, `nginx -t`, and real routing."""

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from synapse.config.listeners import ListenerConfig
from synapse.config.topology import load_deployment
from synapse.routes import build_routes
from synapse.scripts import nginx_config
from synapse.scripts.nginx_config import RoutingError, generate, nginx_regex, server_address
from tests.ops.deployment import Deploy, http_listener
from tests.ops.nginx_support import (
    FAKE_ROUTES,
    NGINX,
    FakeProcess,
    RunningNginx,
    free_port,
    nginx_main_config,
    parse_nginx,
)

needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def generated(deploy: Deploy, routes=FAKE_ROUTES, **kwargs) -> str:
    deploy.write()
    deployment = load_deployment([deploy.shared_path], deploy.worker_files())
    assert deployment.errors == []
    return generate(deployment, routes, **kwargs)


def location_target(parsed, regex_source: str) -> str:
    return parsed["locations"][f'~ "{nginx_regex(regex_source)}"']


def test_structure(deploy):
    deploy.shared["max_upload_size"] = "10M"
    parsed = parse_nginx(generated(deploy))
    up, maps = parsed["upstreams"], parsed["maps"]

    # sync: hashed by user over the generic workers, initial syncs by pool map
    assert location_target(parsed, "^/_matrix/client/v3/sync$") == "$synapse_sync_pool"
    assert maps["synapse_sync_pool"] == {
        "default": "synapse_sync",
        '"~/sync:$"': "synapse_initial_sync",
        '"~/initialSync:"': "synapse_initial_sync",
    }
    assert up["synapse_sync"] == [
        "hash $synapse_user consistent",
        "server 127.0.0.1:8083",
        "server 127.0.0.1:8084",
        "keepalive 16",
    ]
    assert '"~^Bearer syt_(?<synapse_header_user>[^_]*)_"' in maps["synapse_user"]
    # /messages: hashed by the room in the path
    assert location_target(parsed, "^/_matrix/client/r0/rooms/(?P<roomId>[^/]+)/messages$") == "synapse_by_room_client"
    assert up["synapse_by_room_client"][0] == "hash $synapse_room consistent"
    assert "synapse_room" in maps
    # typing: the typing writer's client listener, not its replication one
    assert (
        location_target(parsed, "^/_matrix/client/unstable/rooms/(?P<roomId>[^/]+)/typing/(?P<userId>[^/]+)$")
        == "synapse_typing_writer_client"
    )
    assert up["synapse_typing_writer_client"] == ["server 127.0.0.1:8085", "keepalive 16"]
    # push rules: GET to the generic workers, PUT to main, through a method map
    target = location_target(parsed, "^/_matrix/client/v3/pushrules/(?P<scope>[^/]+)$")
    assert target.startswith("$synapse_route_")
    assert maps[target[1:]] == {"default": "synapse_main_client", "GET": "synapse_generic_client"}
    assert up["synapse_main_client"] == ["server 127.0.0.1:8008", "keepalive 16"]
    # federation transactions: by source address
    assert location_target(parsed, "^/_matrix/federation/v1/send/(?P<txnId>[^/]+)$") == "synapse_by_origin_federation"
    assert up["synapse_by_origin_federation"][0] == "hash $remote_addr consistent"
    # admin stays off the proxy; everything unlisted falls back to main
    assert not any("admin" in match for match in parsed["locations"])
    assert parsed["locations"]["/_matrix/client"] == "synapse_main_client"
    assert parsed["locations"]["/_matrix/federation"] == "synapse_main_federation"
    assert "client_max_body_size 10485760;" in parsed["server"]
    for header in ("X-Forwarded-For $remote_addr", "Host $host", "X-Forwarded-Proto $scheme"):
        assert f"proxy_set_header {header};" in parsed["server"]


def test_stream_on_main_and_no_workers_route_to_main(deploy):
    deploy.shared["stream_writers"] = {}
    deploy.shared["instance_map"] = {"main": deploy.shared["instance_map"]["main"]}
    deploy.workers = {}
    parsed = parse_nginx(generated(deploy))
    assert set(parsed["upstreams"]) == {"synapse_main_client", "synapse_main_federation"}
    assert set(parsed["locations"].values()) == {"synapse_main_client", "synapse_main_federation"}


def test_media_workers_take_the_media_prefixes(deploy):
    deploy.shared["enable_media_repo"] = False
    deploy.shared["media_instance_running_background_jobs"] = "media1"
    media = deploy.worker("media1", http_listener(8090, "media"))
    deploy.workers["media1"] = {**media, "worker_app": "synapse.app.media_repository"}
    parsed = parse_nginx(generated(deploy))
    assert parsed["upstreams"]["synapse_media"] == ["server 127.0.0.1:8090", "keepalive 16"]
    assert parsed["locations"]["^~ /_matrix/media/"] == "synapse_media"
    assert parsed["locations"]["^~ /_matrix/client/v1/media/"] == "synapse_media"
    assert "/_matrix/media" not in parsed["locations"]


def test_initial_sync_workers_get_their_own_pool(deploy):
    parsed = parse_nginx(generated(deploy, initial_sync_workers=["generic2"]))
    assert parsed["upstreams"]["synapse_initial_sync"][1:] == ["server 127.0.0.1:8084", "keepalive 16"]
    assert parsed["upstreams"]["synapse_sync"][1:] == ["server 127.0.0.1:8083", "keepalive 16"]


def test_stream_writer_without_a_client_listener_is_an_error(deploy):
    deploy.workers["writer1"]["worker_listeners"] = [http_listener(9094, "replication")]
    with pytest.raises(RoutingError) as exc:
        generated(deploy)
    assert str(exc.value) == (
        f"{deploy.worker_path('writer1')}: worker_listeners: writer1 has no plain http listener serving "
        "'client', but the proxy must send it requests"
    )


def test_unknown_sticky_by_is_an_error(deploy):
    from synapse.routes import Route
    from tests.ops.nginx_support import FakeWhoami

    with pytest.raises(RoutingError, match="unknown sticky_by 'device'"):
        generated(deploy, routes=[Route(FakeWhoami, sticky_by="device")])


def test_cli_writes_file_and_reports_topology_errors(deploy, tmp_path, capsys):
    deploy.write()
    out = str(tmp_path / "synapse.conf")
    assert nginx_config.main(["-c", deploy.shared_path, "--workers-dir", deploy.workers_dir, "-o", out]) == 0
    with open(out) as f:
        parsed = parse_nginx(f.read())
    assert parsed["locations"]["/_matrix/client"] == "synapse_main_client"

    assert nginx_config.main(["-c", deploy.shared_path, "--workers-dir", deploy.workers_dir, "--check"]) == 0
    assert capsys.readouterr().out == "ok: main and 3 worker(s)\n"

    # --worker-config, with a duplicate name: every error on stderr, exit 1
    deploy.workers["generic2"]["worker_name"] = "generic1"
    deploy.write()
    args = ["-c", deploy.shared_path]
    for path in deploy.worker_files():
        args += ["--worker-config", path]
    assert nginx_config.main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"{deploy.worker_path('generic2')}: worker_name: 'generic1' is also the worker_name in "
        f"{deploy.worker_path('generic1')}; worker names must be unique\n"
    )


@needs_nginx
def test_nginx_accepts_the_config(deploy, tmp_path):
    text = generated(deploy, routes=list(build_routes()) + FAKE_ROUTES, listen=[f"127.0.0.1:{free_port()}"])
    include = tmp_path / "synapse.conf"
    include.write_text(text)
    conf = nginx_main_config(str(tmp_path), str(include))
    result = subprocess.run([NGINX, "-t", "-c", conf], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def live(deploy, tmp_path):
    """nginx on a free port in front of fake processes on free ports."""
    ports = {name: free_port() for name in ("main", "generic1", "generic2", "writer1", "proxy")}
    deploy.shared["listeners"][0]["port"] = ports["main"]
    deploy.shared["max_upload_size"] = "2K"
    deploy.workers["generic1"]["worker_listeners"][0]["port"] = ports["generic1"]
    deploy.workers["generic2"]["worker_listeners"][0]["port"] = ports["generic2"]
    deploy.workers["writer1"]["worker_listeners"][1]["port"] = ports["writer1"]
    include = tmp_path / "synapse.conf"
    include.write_text(generated(deploy, listen=[f"127.0.0.1:{ports['proxy']}"], initial_sync_workers=["generic2"]))
    fakes = [FakeProcess(name, ports[name]) for name in ("main", "generic1", "generic2", "writer1")]
    nginx = RunningNginx(nginx_main_config(str(tmp_path), str(include)), ports["proxy"])
    try:
        yield ports["proxy"]
    finally:
        nginx.stop()
        for fake in fakes:
            fake.close()


def call(port: int, method: str, path: str, token: str = "", body: bytes = b"") -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body or None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@needs_nginx
def test_requests_reach_the_right_process(live):
    # incremental syncs of one user always reach the same (non-initial) worker
    seen = {call(live, "GET", "/_matrix/client/v3/sync?since=s1", f"syt_YWxpY2U_{i}abc_x")["process"] for i in range(5)}
    assert seen == {"generic1"}
    # initial syncs (no since) go to the initial-sync pool; a token in the query works too
    assert call(live, "GET", "/_matrix/client/v3/sync?access_token=syt_Ym9i_zz_y")["process"] == "generic2"
    assert call(live, "GET", "/_matrix/client/v3/initialSync", "syt_YWxpY2U_x_y")["process"] == "generic2"
    # /events never carries `since` but is an ongoing stream
    assert call(live, "GET", "/_matrix/client/v3/events?from=s1", "syt_YWxpY2U_x_y")["process"] == "generic1"

    # /messages: one room always reaches one worker; rooms spread over both
    by_room = {}
    for n in range(12):
        room = f"!room{n}:example.org"
        targets = {call(live, "GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b")["process"] for _ in range(3)}
        assert len(targets) == 1
        by_room[room] = targets.pop()
    assert set(by_room.values()) == {"generic1", "generic2"}

    answer = call(live, "PUT", "/_matrix/client/v3/rooms/!r:example.org/typing/@a:example.org", body=b"{}")
    assert answer["process"] == "writer1"
    assert call(live, "GET", "/_matrix/client/v3/pushrules/global")["process"] in {"generic1", "generic2"}
    assert call(live, "PUT", "/_matrix/client/v3/pushrules/global", body=b"{}")["process"] == "main"
    # a regex with a literal dot survives nginx quoting
    assert call(live, "GET", "/_matrix/client/unstable/org.example/xx")["process"] in {"generic1", "generic2"}
    assert call(live, "GET", "/_matrix/client/unstable/orgXexample/xx")["process"] == "main"
    # anything the table does not list reaches main, with the URI untouched
    answer = call(live, "GET", "/_matrix/client/v3/not_in_table/%21abc?x=1")
    assert answer["process"] == "main" and answer["path"] == "/_matrix/client/v3/not_in_table/%21abc?x=1"
    assert answer["headers"]["x-forwarded-for"] == "127.0.0.1"


@needs_nginx
def test_body_limit_follows_max_upload_size(live):
    assert call(live, "POST", "/_matrix/client/v3/createRoom", body=b"x" * 1000)["process"] == "main"
    with pytest.raises(urllib.error.HTTPError) as exc:
        call(live, "POST", "/_matrix/client/v3/createRoom", body=b"x" * 4000)
    assert exc.value.code == 413


@pytest.mark.parametrize(
    "listener,address",
    [
        (ListenerConfig(type="http", port=8008, bind_addresses=["::", "0.0.0.0"]), "127.0.0.1:8008"),
        (ListenerConfig(type="http", port=8008, bind_addresses=["::"]), "[::1]:8008"),
        (ListenerConfig(type="http", port=8008, bind_addresses=["::1"]), "[::1]:8008"),
        (ListenerConfig(type="http", port=8008, bind_addresses=["10.0.0.5"]), "10.0.0.5:8008"),
        (ListenerConfig(type="http", path="/run/synapse/main.sock"), "unix:/run/synapse/main.sock"),
    ],
)
def test_server_address(listener, address):
    assert server_address(listener) == address
