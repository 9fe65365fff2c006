"""The explorer answers only the names of the address it serves (issue 30, class 8).

Bound to this machine, ``w2gm serve`` answers requests whose Host header is localhost,
127.0.0.1 or [::1] (any port): a page on another site that points a name of its own at
127.0.0.1 (DNS rebinding) gets a 400, not the API.  ``--allow-host`` adds names, ``*`` any.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from test_explorer import parse_serve, planted_model, serving

from w2gm.explorer import commands
from w2gm.explorer.app import create_app, host_name

LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}
#: Host header names, each with the name it gives (None: not a name, and no port changes that).
NAMES = {"localhost": "localhost", "LocalHost": "localhost", "localhost.": "localhost", "127.0.0.1": "127.0.0.1",
         "[::1]": "[::1]", "evil.example": "evil.example", "localhost.evil.example": "localhost.evil.example",
         "127.0.0.1.nip.io": "127.0.0.1.nip.io", "127.1": "127.1", "0.0.0.0": "0.0.0.0",
         "[::ffff:127.0.0.1]": "[::ffff:127.0.0.1]", "testserver": "testserver", "my-laptop": "my-laptop",
         "": None, "[::1": None, "localhost:80@evil.example": None, "evil.example/localhost": None,
         "localhost evil": None, "[::1]x": None}


@pytest.fixture(scope="module")
def model():
    return planted_model()


_clients: dict[frozenset[str] | None, TestClient] = {}


def client_for(model, allowed: set[str] | None) -> TestClient:
    """One app per set of names, made once (an app takes a while to make)."""
    key = None if allowed is None else frozenset(allowed)
    if key not in _clients:
        _clients[key] = TestClient(create_app(model, allowed))
    return _clients[key]


@settings(max_examples=150, deadline=None, database=None)
@given(name=st.sampled_from(sorted(NAMES)), port=st.sampled_from(["", ":8000", ":80", ":1"]),
       bind=st.sampled_from(["127.0.0.1", "localhost", "::1", "127.0.0.2"]),
       extra=st.lists(st.sampled_from(["my-laptop", "evil.example", "*"]), max_size=2))
def test_only_the_servers_names_are_answered(model, name, port, bind, extra):
    allowed = commands.allowed_hosts(bind, extra)
    own = f"[{bind}]" if ":" in bind else bind
    if "*" in extra:
        assert allowed is None
    else:
        assert allowed == LOOPBACK | {own} | set(extra)
    header = name + port
    response = client_for(model, allowed).get("/api/info", headers={"host": header})
    accepted = allowed is None or NAMES[name] in allowed
    assert response.status_code == (200 if accepted else 400), (header, allowed, response.text)
    if not accepted:
        assert response.json()["message"].startswith(f"Host {header!r} is not a name of this server")


def test_host_names_are_read_without_port_or_case():
    assert host_name("LocalHost:8000") == "localhost"
    assert host_name("[::1]:9000") == "[::1]"
    assert host_name("localhost.") == "localhost"
    assert host_name("evil.example:8000") == "evil.example"
    assert host_name("localhost:80@evil.example") == "localhost:80@evil.example"  # not a name and a port


def test_another_address_answers_any_name_unless_told():
    assert commands.allowed_hosts("0.0.0.0", []) is None
    assert commands.allowed_hosts("192.168.1.20", ["my-laptop"]) == {"192.168.1.20", "my-laptop"}
    assert parse_serve("m.w2gm").allow_host == []
    assert parse_serve("m.w2gm", "--allow-host", "a", "--allow-host", "b").allow_host == ["a", "b"]


@pytest.fixture
def served(model) -> Iterator[str]:
    """The explorer as ``w2gm serve`` makes it, on a free loopback port."""
    with serving(create_app(model, commands.allowed_hosts("127.0.0.1", []))) as url:
        yield url.rstrip("/")


def test_a_rebound_name_gets_no_answer_from_a_live_server(served):
    port = served.rpartition(":")[2]
    assert httpx.get(f"{served}/api/word/bank", timeout=30).status_code == 200
    assert httpx.get(f"{served}/", headers={"host": f"localhost:{port}"}, timeout=30).status_code == 200
    for path in ("/api/word/bank", "/", "/openapi.json", "/static/app.js"):
        response = httpx.get(f"{served}{path}", headers={"host": f"evil.example:{port}"}, timeout=30)
        assert response.status_code == 400 and "bank" not in response.text
