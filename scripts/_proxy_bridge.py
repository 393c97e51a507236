"""An HTTPS (CONNECT) proxy across network namespaces, for
`scripts/check_fresh_machine.sh --debootstrap`.

The fresh Debian runs in a network namespace of its own, with only `lo`, so that this
machine's PostgreSQL and Redis are out of its sight; it must still reach the package
registries. A unix socket is reachable from both sides through the filesystem:

    serve  --unix PATH                    this machine's side: a CONNECT proxy on PATH
    bridge --listen HOST:PORT --unix PATH inside the namespace: TCP HOST:PORT -> PATH

apt, pip and uv inside then use https_proxy=http://HOST:PORT. Only CONNECT to port 443
is served: everything the check downloads comes over https.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

HEADER_LIMIT = 16 * 1024
TIMEOUT_S = 30


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF, then pass the EOF on (TLS may still answer)."""
    try:
        while data := await reader.read(64 * 1024):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    try:
        await asyncio.gather(_pump(a[0], b[1]), _pump(b[0], a[1]))
    finally:
        for writer in (a[1], b[1]):
            writer.close()


async def _refuse(writer: asyncio.StreamWriter, status: bytes) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
    writer.close()


async def _on_proxy_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
        await _refuse(writer, b"400 Bad Request")
        return
    host, _, port = target.rpartition(":")
    if method != "CONNECT" or port != "443" or not host:
        await _refuse(writer, b"405 Only CONNECT to port 443")
        return
    try:
        upstream = await asyncio.wait_for(asyncio.open_connection(host, 443), TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        print(f"proxy: {target}: {exc!r}", file=sys.stderr)
        await _refuse(writer, b"502 Bad Gateway")
        return
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await _splice((reader, writer), upstream)


async def serve(unix_path: str) -> None:
    server = await asyncio.start_unix_server(_on_proxy_client, unix_path, limit=HEADER_LIMIT)
    os.chmod(unix_path, 0o600)  # root's, like the namespace that uses it
    async with server:
        await server.serve_forever()


async def bridge(listen: str, unix_path: str) -> None:
    host, _, port = listen.rpartition(":")

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await asyncio.open_unix_connection(unix_path)
        except OSError as exc:
            print(f"bridge: {unix_path}: {exc!r}", file=sys.stderr)
            writer.close()
            return
        await _splice((reader, writer), upstream)

    server = await asyncio.start_server(on_client, host, int(port))
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve")
    serve_cmd.add_argument("--unix", required=True)
    bridge_cmd = commands.add_parser("bridge")
    bridge_cmd.add_argument("--listen", required=True)
    bridge_cmd.add_argument("--unix", required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        if args.command == "serve":
            asyncio.run(serve(args.unix))
        else:
            asyncio.run(bridge(args.listen, args.unix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
