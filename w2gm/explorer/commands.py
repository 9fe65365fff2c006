"""``w2gm serve MODEL``: the explorer on a local web server."""

from __future__ import annotations

import argparse
import ipaddress
import socket

from ..errors import W2GMError
from ..keyed import KeyedMixtures


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port must be in 1..65535, got {port}")
    return port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="explore a model in the browser",
        description="Serve the explorer page and its JSON API (OpenAPI schema at /openapi.json) for MODEL.",
    )
    parser.add_argument("model", metavar="MODEL", help="a model file written by w2gm train")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: this machine only)"
    )
    parser.add_argument("--port", type=_port, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument(
        "--allow-host", metavar="NAME", action="append", default=[],
        help="also answer requests for this host name (repeatable; '*' for any).  On 127.0.0.1 or "
        "localhost (the default) only localhost, 127.0.0.1 and [::1] are answered, so that no web page "
        "can reach the explorer through a name of its own (DNS rebinding); on another address any name is, "
        "unless --allow-host names them",
    )
    parser.set_defaults(run=run)


def allowed_hosts(host: str, extra: list[str]) -> set[str] | None:
    """The Host names the explorer answers on ``host``: the loopback names (and the address
    itself) on a loopback address, any (None) on another unless ``extra`` names some;
    ``extra`` is added, and ``*`` among them opens it to any."""
    if "*" in extra:
        return None
    own = f"[{host}]" if ":" in host else host
    if _is_loopback(host):
        return {"localhost", "127.0.0.1", "[::1]", own, *extra}
    return {own, *extra} if extra else None


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for loading the web stack.
    import uvicorn

    from .app import create_app

    model = KeyedMixtures.load(args.model)
    app = create_app(model, allowed_hosts(args.host, args.allow_host))
    listener = listen(args.host, args.port)
    if not _is_loopback(args.host):
        # Not an error: sharing on a network is a choice, but it should never be a surprise.
        print(f"w2gm serve: listening on {args.host}, reachable from other machines")
    address = f"[{args.host}]" if ":" in args.host else args.host  # IPv6 literals need brackets in URLs
    # Flushed, since a server's output often goes to a pipe or a log that would hold it back.
    print(f"w2gm serve: {model} at http://{address}:{args.port}/ (Ctrl-C stops)", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound here rather than by uvicorn, which logs a failure to
    bind and exits the process instead of raising."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # The protocol must be named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections of sockets that say they are TCP, and with it on, every response on a
    # kept-alive connection waits about 40 ms for the client's delayed ACK.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(socket.SOMAXCONN)
    except OSError as error:  # address in use, unknown host, ...
        listener.close()
        raise W2GMError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener
