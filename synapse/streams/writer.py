"""The writer facade of a per-user stream on a process that is not its writer.

`RemoteStreamWriter(hs, stream)` exposes the stream's `WRITE_METHODS` as
async methods; each call goes to the writer through the one generic
`stream_write` replication endpoint and returns once this process can read
the written position (read-your-writes, see ReplicationClient.call).
"""

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from synapse.replication.endpoints.stream_write import ReplicationStreamWriteEndpoint

if TYPE_CHECKING:
    from synapse.server import HomeServer
    from synapse.streams.base import UserStream


class RemoteStreamWriter:
    def __init__(self, hs: "HomeServer", stream: type["UserStream"], writer_instance: str) -> None:
        self._hs = hs
        self._stream = stream
        self._writer = writer_instance

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method not in self._stream.WRITE_METHODS:
            raise AttributeError(f"{self._stream.NAME} stream has no write method {method!r}")

        async def call(**kwargs: Any) -> Any:
            body = await self._hs.replication_client.call(
                ReplicationStreamWriteEndpoint,
                self._writer,
                {"kwargs": kwargs},
                stream=self._stream.NAME,
                method=method,
            )
            return body["result"]

        return call
