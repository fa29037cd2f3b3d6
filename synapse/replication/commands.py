"""The replication bus wire format: one JSON object per Redis message.

    {"cmd": "POSITION", "instance": "w1", "stream": "events", "position": 57}
    {"cmd": "REPLICATE", "instance": "w1"}
    {"cmd": "PING", "instance": "w1"}

POSITION says "instance has persisted everything it allocated on stream up
to position"; it carries no rows, readers re-query. REPLICATE asks every
writer to publish its current positions (sent on every (re)connect, so a
process that missed messages catches up). PING is the heartbeat: a process
expects its own PING back within a timeout, which proves both of its Redis
connections work, and others learn which instances are alive.
"""

import json
from typing import Any

import attrs


class CommandParseError(ValueError):
    """A message on the channel that is not a command we understand."""


@attrs.frozen
class PositionCommand:
    instance: str
    stream: str
    position: int


@attrs.frozen
class ReplicateCommand:
    instance: str


@attrs.frozen
class PingCommand:
    instance: str


Command = PositionCommand | ReplicateCommand | PingCommand


def encode_command(command: Command) -> str:
    body: dict[str, Any]
    if isinstance(command, PositionCommand):
        body = {"cmd": "POSITION", "instance": command.instance, "stream": command.stream, "position": command.position}
    elif isinstance(command, ReplicateCommand):
        body = {"cmd": "REPLICATE", "instance": command.instance}
    else:
        body = {"cmd": "PING", "instance": command.instance}
    return json.dumps(body, separators=(",", ":"))


def decode_command(message: str | bytes) -> Command:
    """Parses one message; raises CommandParseError for anything malformed."""
    try:
        body = json.loads(message)
    except (ValueError, UnicodeDecodeError) as e:
        raise CommandParseError(f"not JSON: {e}") from None
    if not isinstance(body, dict):
        raise CommandParseError("not a JSON object")
    name = body.get("cmd")
    instance = _str_field(body, "instance")
    if name == "POSITION":
        position = body.get("position")
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise CommandParseError("POSITION needs a non-negative integer position")
        return PositionCommand(instance, _str_field(body, "stream"), position)
    if name == "REPLICATE":
        return ReplicateCommand(instance)
    if name == "PING":
        return PingCommand(instance)
    raise CommandParseError(f"unknown command {name!r}")


def _str_field(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise CommandParseError(f"{key!r} must be a non-empty string")
    return value
