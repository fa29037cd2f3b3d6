"""The process role parsed from worker options."""

import pytest

from synapse.api.errors import ConfigError
from synapse.config.homeserver import HomeServerConfig
from synapse.config.workers import InstanceTcpLocation, InstanceUnixLocation

SHARED = {
    "instance_map": {
        "main": {"host": "localhost", "port": 9093},
        "persister1": {"host": "localhost", "port": 9094, "tls": "true"},
        "persister2": {"path": "/run/p2.sock"},
    },
    "stream_writers": {"events": ["persister1", "persister2"], "typing": "persister1"},
}


def role(tmp_path, minimal, **extra):
    return HomeServerConfig.from_dict({**minimal, **extra}, config_dir=str(tmp_path), config_files=["w.yaml"]).worker


def role_error(tmp_path, minimal, **extra) -> str:
    with pytest.raises(ConfigError) as exc:
        role(tmp_path, minimal, **extra)
    return str(exc.value)


def test_main_process_defaults(tmp_path, minimal):
    r = role(tmp_path, minimal)
    assert r.is_main and r.worker_app is None and r.worker_name is None
    assert r.instance_name == "main"
    for stream in ("events", "typing", "to_device", "account_data", "receipts", "presence", "push_rules", "device_lists"):
        assert r.writers.for_stream(stream) == ["main"] == r.writers_for(stream)
        assert r.is_writer(stream)
    assert r.run_background_tasks and r.start_pushers and r.send_federation
    assert r.should_update_user_directory and r.should_notify_appservices
    assert r.enable_media_repo and r.runs_media_background_jobs
    assert r.may_federate_outbound()


def test_generic_worker_with_shared_config(tmp_path, minimal):
    r = role(
        tmp_path,
        minimal,
        **SHARED,
        worker_app="synapse.app.generic_worker",
        worker_name="persister1",
        worker_listeners=[{"type": "http", "port": 9094, "resources": [{"names": ["replication"]}]}],
        worker_log_config="/etc/w.log.yaml",
        worker_pid_file="/run/w.pid",
        worker_replication_secret="secret",
        run_background_tasks_on="persister1",
        pusher_instances=["persister2"],
        federation_sender_instances=["persister1"],
        update_user_directory_from_worker="persister1",
        notify_appservices_from_worker="persister2",
    )
    assert not r.is_main and r.instance_name == "persister1"
    assert r.instance_map["main"] == InstanceTcpLocation("localhost", 9093)
    assert r.instance_map["persister1"].scheme() == "https"
    assert r.instance_map["persister2"] == InstanceUnixLocation("/run/p2.sock")
    assert r.writers.events == ["persister1", "persister2"]
    assert r.writers.typing == ["persister1"] and r.is_writer("typing") and not r.is_writer("to_device")
    assert r.worker_listeners[0].port == 9094
    assert (r.worker_log_config, r.worker_pid_file, r.worker_replication_secret) == (
        "/etc/w.log.yaml", "/run/w.pid", "secret"
    )
    assert r.run_background_tasks and r.send_federation and r.should_update_user_directory
    assert not r.start_pushers and not r.should_notify_appservices
    assert not r.enable_media_repo


def test_master_is_a_synonym_for_main(tmp_path, minimal):
    r = role(tmp_path, minimal, instance_map={"master": {"host": "h", "port": 1}},
             stream_writers={"events": "master"}, worker_app="synapse.app.generic_worker", worker_name="w1")
    assert "main" in r.instance_map and r.writers.events == ["main"]


def test_worker_needs_main_in_instance_map(tmp_path, minimal):
    message = role_error(tmp_path, minimal, worker_app="synapse.app.generic_worker", worker_name="w1")
    assert message.startswith("w.yaml: instance_map: ")


def test_single_writer_streams_take_one_writer(tmp_path, minimal):
    message = role_error(tmp_path, minimal, **{**SHARED, "stream_writers": {"typing": ["persister1", "persister2"]}})
    assert message.startswith("w.yaml: stream_writers.typing: ")


def test_writer_must_be_in_instance_map(tmp_path, minimal):
    message = role_error(tmp_path, minimal, stream_writers={"events": ["ghost"]})
    assert "ghost" in message and "stream_writers.events" in message


def test_unknown_stream_is_refused(tmp_path, minimal):
    assert "stream_writers.frobs" in role_error(tmp_path, minimal, stream_writers={"frobs": "main"})


def test_legacy_worker_app_maps_to_generic(tmp_path, minimal):
    r = role(tmp_path, minimal, instance_map={"main": {"host": "h", "port": 1}},
             worker_app="synapse.app.pusher", worker_name="pusher1", start_pushers=False)
    assert r.worker_app == "synapse.app.generic_worker"
    assert r.legacy_worker_app == "synapse.app.pusher"
    assert r.start_pushers and r.pusher_instances == ["pusher1"]


def test_legacy_worker_app_requires_main_to_stop_the_duty(tmp_path, minimal):
    message = role_error(tmp_path, minimal, instance_map={"main": {"host": "h", "port": 1}},
                         worker_app="synapse.app.federation_sender")
    assert message.startswith("w.yaml: send_federation: ")


def test_main_stops_pushing_when_legacy_option_off(tmp_path, minimal):
    r = role(tmp_path, minimal, start_pushers=False, send_federation="false")
    assert not r.start_pushers and not r.send_federation
    assert r.pusher_instances == [] and r.federation_sender_instances == []


def test_conflicting_legacy_and_new_duty_options(tmp_path, minimal):
    message = role_error(tmp_path, minimal, update_user_directory=True,
                         update_user_directory_from_worker="w1", instance_map={"w1": {"host": "h", "port": 1}})
    assert "update_user_directory" in message


def test_outbound_federation_restriction(tmp_path, minimal):
    extra = dict(instance_map={"fed1": {"host": "h", "port": 2}}, outbound_federation_restricted_to=["fed1"])
    assert "worker_replication_secret" in role_error(tmp_path, minimal, **extra)
    r = role(tmp_path, minimal, **extra, worker_replication_secret="s")
    assert r.outbound_federation_restricted_to == ["fed1"] and not r.may_federate_outbound()


def test_unknown_worker_app(tmp_path, minimal):
    assert role_error(tmp_path, minimal, worker_app="synapse.app.nonsense").startswith("w.yaml: worker_app: ")


def test_removed_replication_options(tmp_path, minimal):
    message = role_error(tmp_path, minimal, **SHARED, worker_app="synapse.app.generic_worker",
                         worker_name="w", worker_replication_host="main.example")
    assert message.startswith("w.yaml: worker_replication_host: ")


def test_deprecated_worker_apps_warn(tmp_path, minimal, caplog):
    with caplog.at_level("WARNING", logger="synapse.config.workers"):
        r = role(tmp_path, minimal, instance_map={"main": {"host": "h", "port": 1}},
                 worker_app="synapse.app.user_dir", worker_name="userdir1", update_user_directory=False)
    assert r.worker_app == "synapse.app.generic_worker"
    assert any("synapse.app.user_dir is deprecated" in m and "update_user_directory_from_worker" in m
               for m in caplog.messages)
    caplog.clear()
    with caplog.at_level("WARNING", logger="synapse.config.workers"):
        role(tmp_path, minimal, instance_map={"main": {"host": "h", "port": 1}},
             worker_app="synapse.app.synchrotron", worker_name="sync1")
    assert not any("deprecated" in m for m in caplog.messages)
