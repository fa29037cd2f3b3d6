"""Topology validation: each mistake is one line naming the file and key."""

import pytest

from synapse.api.errors import ConfigError
from synapse.config.topology import load_deployment, load_process_config
from tests.ops.deployment import Deploy, http_listener


def start_error(files: list[str]) -> str:
    """What a process started with these files prints before exiting."""
    with pytest.raises(ConfigError) as exc:
        load_process_config(files, worker=len(files) > 1)
    message = str(exc.value)
    assert "\n" not in message
    return message


def deployment_errors(d: Deploy) -> list[str]:
    d.write()
    return [str(e) for e in load_deployment([d.shared_path], d.worker_files()).errors]


def test_valid_deployment_loads_every_process(deploy):
    deploy.write()
    result = load_deployment([deploy.shared_path], deploy.worker_files())
    assert result.errors == []
    assert result.main is not None and result.main.role.is_main
    assert sorted(p.name for p in result.workers) == ["generic1", "generic2", "writer1"]
    assert result.worker("writer1").role.is_writer("typing")
    # every process starts
    load_process_config([deploy.shared_path], worker=False)
    for path in deploy.worker_files():
        assert not load_process_config([deploy.shared_path, path], worker=True).worker.is_main


def test_monolith_on_sqlite_without_redis_is_fine(deploy):
    for key in ("instance_map", "stream_writers", "database", "redis"):
        del deploy.shared[key]
    deploy.shared["database"] = {"name": "sqlite3", "args": {"database": "x.db"}}
    deploy.workers = {}
    assert deployment_errors(deploy) == []


def test_worker_started_without_shared_config(deploy):
    deploy.write()
    with pytest.raises(ConfigError) as exc:
        load_process_config([deploy.worker_path("generic1")], worker=True)
    msg = str(exc.value)
    assert msg.startswith(f"{deploy.worker_path('generic1')}: server_name: ")
    assert "run with -c homeserver.yaml -c worker.yaml" in msg


def test_worker_without_database_means_missing_shared_config(deploy):
    del deploy.shared["database"]
    deploy.write()
    msg = start_error([deploy.shared_path, deploy.worker_path("generic1")])
    assert msg.startswith(f"{deploy.worker_path('generic1')}: database: ")
    assert "-c homeserver.yaml -c worker.yaml" in msg


def test_worker_name_missing(deploy):
    del deploy.workers["generic1"]["worker_name"]
    deploy.write()
    msg = start_error([deploy.shared_path, deploy.worker_path("generic1")])
    assert msg.startswith(f"{deploy.worker_path('generic1')}: worker_name: a worker needs a unique worker_name")


def test_workers_on_sqlite(deploy):
    deploy.shared["database"] = {"name": "sqlite3", "args": {"database": "x.db"}}
    deploy.write()
    for files in ([deploy.shared_path], [deploy.shared_path, deploy.worker_path("generic1")]):
        msg = start_error(files)
        assert msg.startswith(f"{deploy.shared_path}: database.name: workers need PostgreSQL")


def test_redis_disabled_with_workers(deploy):
    deploy.shared["redis"] = {"enabled": False}
    deploy.write()
    msg = start_error([deploy.shared_path])
    assert msg == f"{deploy.shared_path}: redis.enabled: " + (
        "workers talk to each other through Redis: set redis.enabled: true"
    )


def test_main_process_alone_but_naming_a_pusher_needs_redis(deploy):
    del deploy.shared["instance_map"], deploy.shared["stream_writers"]
    deploy.shared["pusher_instances"] = ["pusher1"]
    del deploy.shared["redis"]
    deploy.write()
    assert "redis.enabled" in start_error([deploy.shared_path])


def test_files_contradicting_the_entry_point_are_left_to_the_role_check(deploy):
    """synapse_homeserver given a worker file (or synapse_worker the shared
    file alone) loads unchecked: the app's role check then says which."""
    deploy.shared["database"] = {"name": "sqlite3", "args": {"database": "x.db"}}
    deploy.write()
    both = [deploy.shared_path, deploy.worker_path("generic1")]
    assert not load_process_config(both, worker=False).worker.is_main
    assert load_process_config([deploy.shared_path], worker=True).worker.is_main
    with pytest.raises(ConfigError, match="workers need PostgreSQL"):
        load_process_config(both, worker=True)


def test_instance_map_without_main(deploy):
    del deploy.shared["instance_map"]["main"]
    deploy.write()
    msg = start_error([deploy.shared_path])
    assert msg.startswith(f"{deploy.shared_path}: instance_map: needs a 'main' entry")


def test_stream_writer_missing_from_instance_map(deploy):
    deploy.shared["stream_writers"]["to_device"] = "writer2"
    deploy.write()
    msg = start_error([deploy.shared_path])
    assert msg == f"{deploy.shared_path}: stream_writers.to_device: writer 'writer2' does not appear in instance_map"


@pytest.mark.parametrize(
    "stream", ["typing", "to_device", "account_data", "receipts", "presence", "push_rules", "device_lists"]
)
def test_single_writer_streams_refuse_two_writers(deploy, stream):
    deploy.shared["instance_map"]["writer2"] = {"host": "127.0.0.1", "port": 9095}
    deploy.shared["stream_writers"][stream] = ["writer1", "writer2"]
    deploy.write()
    msg = start_error([deploy.shared_path])
    assert msg.startswith(f"{deploy.shared_path}: stream_writers.{stream}: ")
    assert "one writer" in msg


def test_events_may_have_several_writers(deploy):
    deploy.shared["instance_map"]["writer2"] = {"host": "127.0.0.1", "port": 9095}
    deploy.shared["stream_writers"]["events"] = ["writer1", "writer2"]
    deploy.workers["writer2"] = deploy.worker("writer2", http_listener(9095, "replication"))
    assert deployment_errors(deploy) == []


def test_instance_map_port_must_match_a_replication_listener(deploy):
    deploy.shared["instance_map"]["main"]["port"] = 9999
    deploy.workers["writer1"]["worker_listeners"][0]["resources"] = [{"names": ["client"]}]
    errors = deployment_errors(deploy)
    assert (
        f"{deploy.shared_path}: listeners: instance_map.main points at port 9999 but this process "
        "has no http listener with the replication resource there" in errors
    )
    assert any(
        e.startswith(f"{deploy.worker_path('writer1')}: worker_listeners: instance_map.writer1 points at port 9094")
        for e in errors
    )


def test_duplicate_worker_names(deploy):
    deploy.workers["generic2"]["worker_name"] = "generic1"
    errors = deployment_errors(deploy)
    assert errors == [
        f"{deploy.worker_path('generic2')}: worker_name: 'generic1' is also the worker_name in "
        f"{deploy.worker_path('generic1')}; worker names must be unique"
    ]


@pytest.mark.parametrize(
    "key,value",
    [
        ("pusher_instances", ["pusher_wroker1"]),
        ("federation_sender_instances", ["pusher_wroker1"]),
        ("run_background_tasks_on", "pusher_wroker1"),
        ("update_user_directory_from_worker", "pusher_wroker1"),
        ("notify_appservices_from_worker", "pusher_wroker1"),
        ("media_instance_running_background_jobs", "pusher_wroker1"),
    ],
)
def test_named_instance_without_a_worker(deploy, key, value):
    deploy.shared[key] = value
    errors = deployment_errors(deploy)
    assert errors == [
        f"{deploy.shared_path}: {key}: names instance 'pusher_wroker1' but no worker config has worker_name "
        "'pusher_wroker1' (workers: generic1, generic2, writer1)"
    ]


def test_stream_writer_without_worker_file(deploy):
    del deploy.workers["writer1"]
    errors = deployment_errors(deploy)
    assert errors[0].startswith(f"{deploy.shared_path}: instance_map: names instance 'writer1' but no worker")


def test_port_clash_between_processes(deploy):
    deploy.workers["generic2"]["worker_listeners"][0]["port"] = 8083
    assert deployment_errors(deploy) == [
        f"{deploy.worker_path('generic2')}: worker_listeners: port 8083 is also used by generic1"
    ]


def test_same_port_on_different_addresses_is_fine(deploy):
    deploy.workers["generic2"]["worker_listeners"][0].update(port=8083, bind_addresses=["127.0.0.2"])
    assert deployment_errors(deploy) == []


def test_deployment_reports_every_mistake_not_just_the_first(deploy):
    deploy.workers["generic1"] = {"worker_app": "synapse.app.generic_worker"}
    deploy.workers["plain"] = {"worker_log_config": "x.yaml"}
    deploy.shared["pusher_instances"] = ["nobody"]
    errors = deployment_errors(deploy)
    assert len(errors) == 3
    assert errors[0].startswith(f"{deploy.worker_path('generic1')}: worker_name: ")
    assert errors[1] == f"{deploy.worker_path('plain')}: worker_app: not a worker config: worker_app is missing"
    assert errors[2].startswith(f"{deploy.shared_path}: pusher_instances: names instance 'nobody'")
