"""Load test of ``w2gm serve`` over loopback: many concurrent clients, every answer checked.

    python benchmarks/explorer_load.py                    # random 100k-word, K=2, D=50 model
    python benchmarks/explorer_load.py --model my.w2gm --requests 400 --clients 20

The server runs as its own process through the real command line, so client threads do
not share its interpreter; clients use the standard library's ``http.client``, the
lightest client at hand, because on a small machine the load generator competes with the
server for the same cores.  Every response is checked against an answer computed here
beforehand by other code paths (``KeyedMixtures.most_similar``, :mod:`w2gm.measures`, the
vocabulary itself), and any wrong or failed response makes the exit code 1.  Printed:
p50/p99 latency overall and per endpoint under load, and the latency of one neighbour
query at a time, in process and over HTTP (the issue's target: under 50 ms for a 100k-word,
K = 2 model).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import random
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from w2gm import measures
from w2gm.explorer.views import Explorer
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.vocab import Vocabulary

HOST = "127.0.0.1"
TARGET_MS = 50.0
NEIGHBOURS = 20
#: Keeps a mistyped command line from flooding even the loopback interface.
MAX_REQUESTS = 20_000
MAX_CLIENTS = 64

#: Takes a response's JSON body and returns what is wrong with it, or None.
Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Job:
    endpoint: str
    path: str
    params: dict[str, str | int]
    check: Check

    @property
    def status(self) -> int:
        return 404 if self.endpoint == "unknown" else 200

    @property
    def url(self) -> str:
        return f"{urllib.parse.quote(self.path)}?{urllib.parse.urlencode(self.params)}"


def random_model(words: int, components: int, dim: int, seed: int) -> KeyedMixtures:
    """Random lowercase words of 3 to 10 letters (realistic prefixes for suggestions),
    Gaussian means, log variances and logits."""
    rng = random.Random(seed)
    vocabulary: set[str] = set()
    while len(vocabulary) < words:
        vocabulary.add("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10))))
    generator = torch.Generator().manual_seed(seed)
    table = MixtureTable(
        torch.randn(words, components, dim, generator=generator),
        torch.randn(words, components, 1, generator=generator) * 0.3 - 2.0,
        torch.randn(words, components, generator=generator),
    )
    counts = np.arange(words, 0, -1)
    return KeyedMixtures(Vocabulary(sorted(vocabulary), counts), table)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def same_ranking(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> bool:
    """Equal keys in order, allowing neighbours whose scores tie to float precision to swap."""
    if [key for key, _ in got] == [key for key, _ in expected]:
        return True
    scores_agree = all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(got, expected, strict=True))
    return scores_agree and {key for key, _ in got} == {key for key, _ in expected}


def expect_neighbours(model: KeyedMixtures, key: str, k: int) -> Check:
    expected = model.most_similar(key, k)

    def check(body: Any) -> str | None:
        got = [(n["key"], n["similarity"]) for n in body["neighbours"]]
        return None if len(got) == k and same_ranking(got, expected) else f"wrong neighbours of {key}"

    return check


def expect_word(model: KeyedMixtures, word: str, k: int) -> Check:
    per_component = [model.most_similar(f"{word}:{i}", k) for i in range(model.components_per_word)]
    weights = torch.softmax(model.input.logits[model.vocab.id(word)], -1).tolist()

    def check(body: Any) -> str | None:
        cards = body["components"]
        if len(cards) != len(per_component):
            return f"{word}: {len(cards)} cards"
        for card, expected, weight in zip(cards, per_component, weights, strict=True):
            got = [(n["key"], n["similarity"]) for n in card["neighbours"]]
            if not same_ranking(got, expected) or abs(card["weight"] - weight) > 1e-5:
                return f"wrong card {card['key']}"
        return None

    return check


def expect_pair(model: KeyedMixtures, a: str, b: str) -> Check:
    f, g = model.mixtures([model.vocab.id(a)]), model.mixtures([model.vocab.id(b)])
    expected = {name: float(score(f, g)[0]) for name, score in measures.MEASURES.items()}

    def check(body: Any) -> str | None:
        got = body["measures"]
        close = set(got) == set(expected) and all(
            math.isclose(got[name], value, rel_tol=1e-4, abs_tol=1e-4) for name, value in expected.items()
        )
        return None if close else f"wrong measures for {a}, {b}"

    return check


def expect_suggestions(model: KeyedMixtures, prefix: str, limit: int) -> Check:
    expected = [word for word in model.vocab.words if word.casefold().startswith(prefix.casefold())][:limit]

    def check(body: Any) -> str | None:
        return None if body == expected else f"wrong suggestions for {prefix!r}"

    return check


def expect_not_found(word: str) -> Check:
    def check(body: Any) -> str | None:
        return None if word in body["message"] and isinstance(body["suggestions"], list) else "bad 404 body"

    return check


def workload(model: KeyedMixtures, requests: int, seed: int) -> list[Job]:
    """A mix like a person browsing: mostly neighbours and word cards, some pairs, typing
    and mistyped words; the expected answers are computed now, outside the timing."""
    rng = random.Random(seed)
    words = model.vocab.words
    per_word = model.components_per_word
    jobs = []
    for _ in range(requests):
        word, other = rng.choice(words), rng.choice(words)
        kind = rng.random()
        if kind < 0.45:
            key = f"{word}:{rng.randrange(per_word)}"
            params = {"q": key, "k": NEIGHBOURS}
            jobs.append(Job("neighbors", "/api/neighbors", params, expect_neighbours(model, key, NEIGHBOURS)))
        elif kind < 0.70:
            jobs.append(Job("word", f"/api/word/{word}", {"k": 10}, expect_word(model, word, 10)))
        elif kind < 0.85:
            jobs.append(Job("pair", "/api/pair", {"a": word, "b": other}, expect_pair(model, word, other)))
        elif kind < 0.95:
            prefix = word[: rng.randint(1, 3)]
            params = {"prefix": prefix, "limit": 10}
            jobs.append(Job("suggest", "/api/suggest", params, expect_suggestions(model, prefix, 10)))
        else:
            typo = word + "qx"
            while typo in model.vocab:
                typo += "q"
            jobs.append(Job("unknown", f"/api/word/{typo}", {}, expect_not_found(typo)))
    return jobs


def connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, port, timeout=30.0)


def run_job(connection: http.client.HTTPConnection, job: Job) -> tuple[float, str | None]:
    """Time one request on a kept-alive connection and check its answer."""
    start = time.perf_counter()
    try:
        connection.request("GET", job.url)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        connection.close()  # the next request opens a fresh connection
        return time.perf_counter() - start, f"{job.endpoint}: {type(error).__name__}: {error}"
    elapsed = time.perf_counter() - start
    if response.status != job.status:
        return elapsed, f"{job.endpoint}: HTTP {response.status} {body[:120]!r}"
    try:
        return elapsed, job.check(json.loads(body))
    except (ValueError, KeyError, TypeError) as error:
        return elapsed, f"{job.endpoint}: malformed answer ({error})"


def load(port: int, jobs: list[Job], clients: int) -> tuple[list[tuple[str, float]], list[str], float]:
    """Run ``jobs`` from ``clients`` threads, each with its own keep-alive connection."""
    queue = list(reversed(jobs))
    lock = threading.Lock()
    timings: list[tuple[str, float]] = []
    failures: list[str] = []

    def client_loop() -> None:
        connection = connect(port)
        while True:
            with lock:
                if not queue:
                    break
                job = queue.pop()
            elapsed, problem = run_job(connection, job)
            with lock:
                timings.append((job.endpoint, elapsed))
                if problem:
                    failures.append(problem)
        connection.close()

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings, failures, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(model_path: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "w2gm.cli", "serve", str(model_path), "--host", HOST, "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"explorer_load: the server exited with code {server.returncode}")
        probe = connect(port)
        try:
            probe.request("GET", "/api/info")
            if probe.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
        finally:
            probe.close()
    server.terminate()
    raise SystemExit("explorer_load: the server did not answer within 120 s")


def milliseconds(values: list[float]) -> str:
    return f"p50 {percentile(values, 50) * 1e3:7.1f} ms   p99 {percentile(values, 99) * 1e3:7.1f} ms"


def bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in {low}..{high}, got {value}")
        return value

    return parse


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="a model file (default: a random one)")
    parser.add_argument("--words", type=bounded(100, 1_000_000), default=100_000, help="random model's size")
    parser.add_argument("--requests", type=bounded(200, MAX_REQUESTS), default=400)
    parser.add_argument("--clients", type=bounded(1, MAX_CLIENTS), default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        if args.model:
            model, model_path = KeyedMixtures.load(args.model), args.model
        else:
            model, model_path = random_model(args.words, 2, 50, args.seed), Path(scratch) / "random.w2gm"
            model.save(model_path)
        print(f"model: {model}")

        # One neighbour query at a time, in process: the cost of the matrix product itself.
        explorer = Explorer(model)
        rng = random.Random(args.seed + 1)
        in_process = []
        for _ in range(50):
            key = f"{rng.choice(model.vocab.words)}:{rng.randrange(model.components_per_word)}"
            start = time.perf_counter()
            explorer.neighbours(key, NEIGHBOURS)
            in_process.append(time.perf_counter() - start)

        jobs = workload(model, args.requests, args.seed)
        port = free_port()
        server = start_server(model_path, port)
        try:
            connection = connect(port)
            sequential = [run_job(connection, job) for job in jobs if job.endpoint == "neighbors"][:50]
            connection.close()
            timings, failures, wall = load(port, jobs, args.clients)
        finally:
            server.terminate()
            server.wait(timeout=30)

    single = [elapsed for elapsed, _ in sequential]
    failures += [problem for _, problem in sequential if problem]
    print(f"one neighbour query (k={NEIGHBOURS}) at a time, in process: {milliseconds(in_process)}")
    print(f"one neighbour query (k={NEIGHBOURS}) at a time, over HTTP:  {milliseconds(single)}")
    print(f"load: {len(timings)} requests from {args.clients} concurrent clients in {wall:.1f} s "
          f"({len(timings) / wall:.0f} requests/s)")
    print(f"  all        {milliseconds([t for _, t in timings])}   n={len(timings)}")
    for endpoint in ("neighbors", "word", "pair", "suggest", "unknown"):
        values = [t for name, t in timings if name == endpoint]
        if values:
            print(f"  {endpoint:<10} {milliseconds(values)}   n={len(values)}")
    met = statistics.median(single) * 1e3 < TARGET_MS
    verdict = "met" if met else "MISSED"
    print(f"target (one neighbour query under {TARGET_MS:.0f} ms over HTTP, p50): {verdict}")
    if failures:
        print(f"{len(failures)} wrong or failed responses, e.g.: {'; '.join(failures[:5])}")
        return 1
    print("every response correct")
    return 0


if __name__ == "__main__":
    sys.exit(main())
