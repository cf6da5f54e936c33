"""The wire-protocol side: mockupdb accepts connections and parses messages.

mockupdb runs one thread per connection. Its stock loop holds one global
lock while replying and formats every request for its log even when quiet,
which costs more than executing the command; our loop reuses mockupdb's
message parsing and replies, takes the executor's lock only while a command
runs, and sends replies outside it. So the Dagster webserver, daemon and run
workers can all stay connected at once.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import traceback
from pathlib import Path

import bson
import mockupdb
from mockupdb import OP_MSG_FLAGS, Command, MockupDB, OpMsg, OpMsgReply, OpReply

from hubspot_assets_tests.mongo_standin.commands import COMPRESS_ABOVE_BYTES, CommandExecutor
from hubspot_assets_tests.mongo_standin.persistence import SnapshotKeeper
from hubspot_assets_tests.mongo_standin.storage import DICT_CODEC

MORE_TO_COME = OP_MSG_FLAGS["moreToCome"]
_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")
_OP_MSG = 2013


def _receive_exactly(sock: socket.socket, length: int) -> bytes:
    buffer = bytearray(length)
    view = memoryview(buffer)
    while view:
        received = sock.recv_into(view)
        if received == 0:
            raise ConnectionResetError("client closed the connection")
        view = view[received:]
    return bytes(buffer)


def _parse_op_msg(body: bytes, sock: socket.socket, server: MockupDB, request_id: int) -> OpMsg:
    """OP_MSG into mockupdb's OpMsg, decoding into plain dicts.

    mockupdb decodes into OrderedDict (for its request matching, unused here);
    plain dicts decode faster. (Update statements as RawBSONDocument would
    avoid decoding the records' data, but reading their parts through
    RawBSONDocument's Python layer costs more than pymongo's C decoder.)
    """
    flags, = _UINT32.unpack_from(body, 0)
    end = len(body) - (4 if flags & OP_MSG_FLAGS["checksumPresent"] else 0)
    command: dict = {}
    position = 4
    while position < end:
        kind = body[position]
        position += 1
        size, = _INT32.unpack_from(body, position)
        if kind == 0:  # the command body
            command.update(bson.decode(body[position:position + size], DICT_CODEC))
        elif kind == 1:  # a document sequence, e.g. "documents" or "updates"
            name_end = body.index(b"\0", position + 4)
            name = body[position + 4:name_end].decode("utf-8")
            command[name] = bson.decode_all(body[name_end + 1:position + size], DICT_CODEC)
        else:
            raise ValueError(f"unknown OP_MSG section kind {kind}")
        position += size
    return OpMsg(command, namespace=command["$db"], flags=flags, _client=sock,
                 request_id=request_id, _server=server)


def _receive_request(sock: socket.socket, server: MockupDB):
    """Read one message; OP_MSG parsed here, the OP_QUERY handshake by mockupdb."""
    length, request_id, _, opcode = _HEADER.unpack(_receive_exactly(sock, _HEADER.size))
    body = _receive_exactly(sock, length - _HEADER.size)
    if opcode == _OP_MSG:
        return _parse_op_msg(body, sock, server, request_id)
    parser = mockupdb.OPCODES.get(opcode)
    if parser is None:
        raise ConnectionAbortedError(f"unsupported opcode {opcode}")
    return parser.unpack(body, sock, server, request_id)


class _StandinServer(MockupDB):
    """mockupdb's listener with our per-connection loop."""

    def __init__(self, respond, on_connect, **kwargs) -> None:
        super().__init__(**kwargs)
        self._respond = respond
        self._on_connect = on_connect

    def _server_loop(self, client, client_addr):
        self._on_connect(+1)
        try:
            while not self._stopped:
                try:
                    request = _receive_request(client, self)
                except (OSError, ValueError):
                    break  # closed, reset, or garbage: drop this connection only
                if not self._respond(request):
                    break
        finally:
            self._on_connect(-1)
            client.close()


class MongoStandin:
    """A loopback MongoDB stand-in for development and tests (data lives in memory).

        with MongoStandin() as standin:
            client = pymongo.MongoClient(standin.uri)

    With `data_dir`, the data outlives the process: loaded from the directory's
    snapshot on start, saved every `snapshot_seconds` while writes arrive and
    on stop (persistence.py).
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", verbose: bool = False,
                 compress_above: int = COMPRESS_ABOVE_BYTES, data_dir: Path | None = None,
                 snapshot_seconds: float = 30.0) -> None:
        self._host = host
        self._port = port
        self._verbose = verbose
        self._server: MockupDB | None = None
        self.executor = CommandExecutor(compress_above)
        self._connections_lock = threading.Lock()
        self.keeper = (SnapshotKeeper(self.executor, data_dir, snapshot_seconds)
                       if data_dir is not None else None)

    def start(self) -> MongoStandin:
        if self.keeper is not None:
            self.keeper.start()  # before serving: no client sees a half-loaded store
        server = _StandinServer(self._respond, self._count_connection,
                                port=self._port or None, request_timeout=int(1e6))
        # mockupdb binds "localhost"; pin the address to the requested loopback host.
        server._address = (self._host, self._port or None)
        self._port = server.run()
        self._server = server
        return self

    @property
    def port(self) -> int:
        return self._port

    @property
    def uri(self) -> str:
        if self._server is None:
            raise RuntimeError("the MongoDB stand-in is not running; call start() first")
        return f"mongodb://{self._host}:{self._port}/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.keeper is not None:
            self.keeper.stop()  # after the server: no write arrives after the last snapshot

    def __enter__(self) -> MongoStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count_connection(self, delta: int) -> None:
        # Not under the command lock: MongoDB accepts connections beside a long command
        # (pymongo's monitor opens a new one after a failed check).
        with self._connections_lock:
            self.executor.connections += delta

    def _respond(self, request) -> bool:
        """Answer one request; never raises. False closes the connection."""
        if not isinstance(request, (OpMsg, Command)):
            return False  # legacy opcodes: pymongo 4 never sends them
        try:
            reply = self.executor.execute(request.namespace, dict(request.doc))
        except Exception as exc:  # a handler bug: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            reply = {"ok": 0.0, "code": 1, "codeName": "InternalError",
                     "errmsg": f"MongoDB stand-in internal error: {type(exc).__name__}: {exc}"}
        if self._verbose:
            print(f"{request.command_name} {request.namespace} -> ok={reply.get('ok')}",
                  file=sys.stderr, flush=True)
        if isinstance(request, OpMsg) and request.flags & MORE_TO_COME:
            return True  # unacknowledged write (w=0): the client expects no reply
        # Encode with mockupdb's reply classes but send directly: Request.replies
        # would also render the whole reply as JSON for a log nobody reads.
        message = OpMsgReply(reply) if isinstance(request, OpMsg) else OpReply(reply)
        try:
            request._client.sendall(message.reply_bytes(request))
        except OSError:
            return False
        return True
