"""POST /_synapse/replication/stream_write/{stream}/{method}/{txn_id}

The one replication call for every per-user stream's writes: the writer
runs the named write method of its local stream object (only methods the
stream lists in `WRITE_METHODS`) with the JSON keyword arguments; a write
method returns the position it wrote, which the caller waits for before
answering its client.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.api.errors import Codes, SynapseError
from synapse.replication.http.endpoint import ReplicationEndpoint, ReplicationServer

if TYPE_CHECKING:
    from synapse.streams.base import UserStream

JsonDict = dict[str, Any]


class ReplicationStreamWriteEndpoint(ReplicationEndpoint):
    NAME = "stream_write"
    PATH_ARGS = ("stream", "method")

    def __init__(self, server: ReplicationServer, local_streams: Mapping[str, "UserStream"]) -> None:
        super().__init__(server)
        self._streams = local_streams

    async def handle(self, content: JsonDict, **path_args: str) -> tuple[int, JsonDict, Mapping[str, int]]:
        stream = self._streams.get(path_args["stream"])
        method = path_args["method"]
        if stream is None:
            raise SynapseError(404, f"This process does not write stream {path_args['stream']!r}", Codes.NOT_FOUND)
        if method not in stream.WRITE_METHODS:
            raise SynapseError(404, f"Stream {stream.NAME!r} has no write method {method!r}", Codes.NOT_FOUND)
        kwargs = content.get("kwargs")
        if not isinstance(kwargs, dict):
            raise SynapseError(400, "kwargs must be an object", Codes.BAD_JSON)
        position = await getattr(stream, method)(**kwargs)
        return 200, {"result": position}, {stream.NAME: position}
