"""The explorer: its JSON API through FastAPI's test client, ``w2gm serve``, the 2-D map,
and the page itself in a real headless Chromium.

The model is planted by hand: ``bank`` has one component among water words and one among
money words, ``dog`` is a narrow Gaussian inside the broad ``animal``, so a correct
explorer must show two cards with disjoint neighbours and find dog |= animal.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
import uvicorn
from fastapi.testclient import TestClient

from w2gm import cli, energy, measures
from w2gm.errors import W2GMError
from w2gm.explorer import commands
from w2gm.explorer.app import MAX_KEY_LENGTH, MAX_NEIGHBOURS, MAX_SUGGESTIONS, create_app
from w2gm.explorer.examples import MAX_FREQUENCY, worth_exploring
from w2gm.explorer.projection import project
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.vocab import Vocabulary

DIM = 8
WATER = {"river", "creek", "shore", "water", "stream"}
MONEY = {"money", "loan", "cash", "finance", "credit"}
FILLER = ["the", "of", "band", "Banner", "bandit", "and/or", "zebra", "quartz"]
BANK_LOGITS = [0.4, -0.4]
BANK_VARIANCE = 0.05


def planted_model() -> KeyedMixtures:
    """K = 2, spherical: water words near axis 0, money words near axis 1, animals on
    axis 2, fillers in the remaining dimensions; ``bank`` has one component on each of
    axes 0 and 1."""
    generator = torch.Generator().manual_seed(0)
    axes = torch.eye(DIM)
    words = ["bank", *sorted(WATER), *sorted(MONEY), "animal", "dog", *FILLER]
    centres = {"bank": [axes[0], axes[1]], "animal": [axes[2], axes[2]], "dog": [axes[2], axes[2]]}
    centres |= {word: [axes[0], axes[0]] for word in WATER} | {word: [axes[1], axes[1]] for word in MONEY}
    for i, word in enumerate(FILLER):
        centres[word] = [axes[3 + i % (DIM - 3)], axes[3 + (i + 1) % (DIM - 3)]]
    means = torch.stack([torch.stack(centres[word]) for word in words]) * 2.0
    means += 0.25 * torch.randn(means.shape, generator=generator)
    log_variances = torch.full((len(words), 2, 1), math.log(BANK_VARIANCE))
    log_variances[words.index("animal")] = math.log(1.0)
    log_variances[words.index("dog")] = math.log(0.01)
    logits = torch.zeros(len(words), 2)
    logits[0] = torch.tensor(BANK_LOGITS)
    counts = np.arange(len(words), 0, -1) * 10
    return KeyedMixtures(Vocabulary(words, counts), MixtureTable(means, log_variances, logits))


@pytest.fixture(scope="module")
def model() -> KeyedMixtures:
    return planted_model()


@pytest.fixture(scope="module")
def client(model: KeyedMixtures) -> Iterator[TestClient]:
    with TestClient(create_app(model)) as test_client:
        yield test_client


def get_ok(client: TestClient, url: str, **params: object) -> dict | list:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def word_of(key: str) -> str:
    return key.rpartition(":")[0]


# ---------------------------------------------------------------------- word view
def test_word_view_has_one_card_per_sense_with_its_own_neighbours(client: TestClient) -> None:
    view = get_ok(client, "/api/word/bank", k=4)
    assert view["word"] == "bank" and view["focus"] is None
    first, second = view["components"]
    assert {word_of(n["key"]) for n in first["neighbours"]} <= WATER
    assert {word_of(n["key"]) for n in second["neighbours"]} <= MONEY
    expected_weights = torch.softmax(torch.tensor(BANK_LOGITS), 0).tolist()
    for i, card in enumerate(view["components"]):
        assert card["key"] == f"bank:{i}" and card["index"] == i
        assert card["weight"] == pytest.approx(expected_weights[i], rel=1e-5)
        assert card["variance"] == pytest.approx(BANK_VARIANCE, rel=1e-5)
        assert card["std"] == pytest.approx(math.sqrt(BANK_VARIANCE), rel=1e-5)
        scores = [n["similarity"] for n in card["neighbours"]]
        assert len(scores) == 4 and scores == sorted(scores, reverse=True)
        assert all(n["key"] == f"{n['word']}:{n['component']}" for n in card["neighbours"])


def test_word_view_neighbours_agree_with_most_similar(client: TestClient, model: KeyedMixtures) -> None:
    view = get_ok(client, "/api/word/bank", k=6)
    for i, card in enumerate(view["components"]):
        expected = model.most_similar(f"bank:{i}", topn=6)
        assert [n["key"] for n in card["neighbours"]] == [key for key, _ in expected]
        scores = [n["similarity"] for n in card["neighbours"]]
        assert scores == pytest.approx([score for _, score in expected], abs=1e-6)


def test_word_view_of_a_component_focuses_its_card(client: TestClient) -> None:
    assert get_ok(client, "/api/word/bank:1", k=2)["focus"] == 1


def test_word_with_a_slash_is_reachable(client: TestClient) -> None:
    assert get_ok(client, "/api/word/and%2For", k=2)["word"] == "and/or"


def test_map_is_a_faithful_projection(client: TestClient, model: KeyedMixtures) -> None:
    view = get_ok(client, "/api/word/bank", k=5)
    points = {p["key"]: p for p in view["map"]}
    neighbour_keys = {n["key"] for card in view["components"] for n in card["neighbours"]}
    assert set(points) == neighbour_keys | {"bank:0", "bank:1"}
    assert [p["key"] for p in view["map"] if p["query"]] == ["bank:0", "bank:1"]
    for card in view["components"]:
        assert points[card["key"]]["radius"] == pytest.approx(card["std"], rel=1e-5)
        assert all(points[n["key"]]["group"] == card["index"] for n in card["neighbours"])

    def true_distance(a: str, b: str) -> float:
        (wa, ca), (wb, cb) = model.parse_component(a), model.parse_component(b)
        return float((model.input.means[wa, ca] - model.input.means[wb, cb]).norm())

    def map_distance(a: str, b: str) -> float:
        return math.dist((points[a]["x"], points[a]["y"]), (points[b]["x"], points[b]["y"]))

    # An orthogonal projection never stretches, and keeps the direction of most spread:
    # here the one between bank's two senses.
    for a in points:
        for b in points:
            assert map_distance(a, b) <= true_distance(a, b) + 1e-4
    assert map_distance("bank:0", "bank:1") > 0.9 * true_distance("bank:0", "bank:1")


def test_projection_radius_of_a_diagonal_component() -> None:
    means = torch.tensor([[-3.0, 0, 0], [3.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]])
    variances = torch.tensor([[1.0, 4.0, 100.0]]).expand(4, 3)
    drawn = project(means, variances)
    # The plane is axes 0 and 1, so the variance of 100 along axis 2 must not count.
    assert drawn.radii.tolist() == pytest.approx([math.sqrt(2.5)] * 4, rel=1e-5)
    assert drawn.coordinates.abs().amax(0).tolist() == pytest.approx([3.0, 1.0], rel=1e-5)
    alone = project(means[:1], torch.tensor([[0.25]]))
    assert alone.radii.tolist() == pytest.approx([0.5]) and alone.coordinates.tolist() == [[0.0, 0.0]]


def test_diagonal_covariances_are_summarised_per_dimension(model: KeyedMixtures) -> None:
    spread = torch.linspace(-1.0, 1.0, DIM)  # variances differing by e^2 across dimensions
    log_variances = model.input.log_variances.expand(-1, -1, DIM) + spread
    diagonal = KeyedMixtures(model.vocab, MixtureTable(model.input.means, log_variances, model.input.logits))
    with TestClient(create_app(diagonal)) as client:
        view = get_ok(client, "/api/word/bank", k=3)
        pair = get_ok(client, "/api/pair", a="dog", b="animal")
    expected = BANK_VARIANCE * spread.exp()
    radii = {p["key"]: p["radius"] for p in view["map"]}
    for card in view["components"]:
        assert card["variance"] == pytest.approx(float(expected.mean()), rel=1e-5)
        assert card["std"] == pytest.approx(math.sqrt(card["variance"]), rel=1e-6)
        # A plane's two directions see some mixture of the dimensions' variances.
        assert float(expected.min().sqrt()) <= radii[card["key"]] <= float(expected.max().sqrt())
    assert pair["entailment"]["direction"] == "a_entails_b"


# ---------------------------------------------------------------------- neighbours
def test_neighbours_of_a_component(client: TestClient, model: KeyedMixtures) -> None:
    found = get_ok(client, "/api/neighbors", q="bank:1", k=3)
    assert (found["word"], found["component"]) == ("bank", 1)
    assert {word_of(n["key"]) for n in found["neighbours"]} <= MONEY
    assert [n["key"] for n in found["neighbours"]] == [key for key, _ in model.most_similar("bank:1", 3)]


def test_neighbours_of_a_whole_word(client: TestClient, model: KeyedMixtures) -> None:
    found = get_ok(client, "/api/neighbors", q="river", k=4)
    assert found["component"] is None
    assert [(n["key"], n["component"]) for n in found["neighbours"]] == [
        (word, None) for word, _ in model.most_similar("river", topn=4, measure="max_cosine")
    ]


def test_k_beyond_the_vocabulary_returns_everything_else(client: TestClient, model: KeyedMixtures) -> None:
    found = get_ok(client, "/api/neighbors", q="zebra:0", k=MAX_NEIGHBOURS)
    assert len(found["neighbours"]) == 2 * (len(model.vocab) - 1)


# ---------------------------------------------------------------------- pair view
def test_pair_reports_every_measure_and_the_entailment_direction(
    client: TestClient, model: KeyedMixtures
) -> None:
    view = get_ok(client, "/api/pair", a="dog", b="animal")
    dog, animal = model.mixtures([model.vocab.id("dog")]), model.mixtures([model.vocab.id("animal")])
    assert set(view["measures"]) == set(measures.MEASURES)
    for name, score in measures.MEASURES.items():
        assert view["measures"][name] == pytest.approx(float(score(dog, animal)[0]), rel=1e-5)
    xi = energy.partial_log_energies(dog[0], dog[1], animal[0], animal[1])[0]
    np.testing.assert_allclose(view["partial_energy"], xi.numpy(), rtol=1e-5)
    assert np.shape(view["partial_energy"]) == (2, 2)
    entailment = view["entailment"]
    assert entailment["direction"] == "a_entails_b"
    assert entailment["min_kl_a_b"] < entailment["min_kl_b_a"]
    assert entailment["min_kl_a_b"] == pytest.approx(-view["measures"]["kl"], rel=1e-5)
    assert entailment["min_kl_a_b"] == pytest.approx(min(min(row) for row in view["kl_a_b"]), rel=1e-6)


def test_pair_is_symmetric_where_it_should_be(client: TestClient) -> None:
    ab = get_ok(client, "/api/pair", a="dog", b="animal")
    ba = get_ok(client, "/api/pair", a="animal", b="dog")
    assert ba["entailment"]["direction"] == "b_entails_a"
    np.testing.assert_allclose(ba["partial_energy"], np.transpose(ab["partial_energy"]), rtol=1e-5)
    np.testing.assert_allclose(ba["kl_a_b"], ab["kl_b_a"], rtol=1e-5)
    for name in ("elk", "max_cosine", "min_euclidean", "mean_cosine"):
        assert ba["measures"][name] == pytest.approx(ab["measures"][name], rel=1e-5)
    same = get_ok(client, "/api/pair", a="bank", b="bank")
    assert same["entailment"]["direction"] == "neither"


# ---------------------------------------------------------------------- lookup
def test_suggest_completes_prefixes_by_frequency_ignoring_case(
    client: TestClient, model: KeyedMixtures
) -> None:
    words = get_ok(client, "/api/suggest", prefix="BAN")
    assert words == ["bank", "band", "Banner", "bandit"]
    assert [model.vocab.index[w] for w in words] == sorted(model.vocab.index[w] for w in words)
    assert get_ok(client, "/api/suggest", prefix="ban", limit=2) == ["bank", "band"]
    assert get_ok(client, "/api/suggest", prefix="xyz") == []


@pytest.mark.parametrize(
    ("url", "params", "mentions", "suggestion"),
    [
        ("/api/word/bnak", {}, "bnak", "bank"),
        ("/api/neighbors", {"q": "bnak:1"}, "bnak", "bank:1"),
        ("/api/word/bank:7", {}, "K=2", "bank:1"),
        ("/api/pair", {"a": "dgo", "b": "animal"}, "dgo", "dog"),
    ],
)
def test_unknown_words_are_404_with_close_suggestions(
    client: TestClient, url: str, params: dict, mentions: str, suggestion: str
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == 404
    body = response.json()
    assert mentions in body["message"] and suggestion in body["suggestions"]


# ---------------------------------------------------------------------- input hygiene
@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/word/bank", {"k": 0}, "k"),
        ("/api/word/bank", {"k": MAX_NEIGHBOURS + 1}, "k"),
        ("/api/neighbors", {"q": "bank:0", "k": "many"}, "k"),
        ("/api/neighbors", {}, "q"),
        ("/api/word/" + "a" * (MAX_KEY_LENGTH + 1), {}, "word"),
        ("/api/pair", {"a": "dog", "b": "x" * (MAX_KEY_LENGTH + 1)}, "b"),
        ("/api/suggest", {"prefix": "b" * (MAX_KEY_LENGTH + 1)}, "prefix"),
        ("/api/suggest", {"prefix": "b", "limit": MAX_SUGGESTIONS + 1}, "limit"),
        ("/api/suggest", {"prefix": ""}, "prefix"),
    ],
)
def test_out_of_bounds_requests_get_a_one_line_json_message(
    client: TestClient, url: str, params: dict, field: str
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith(f"{field}:") and "\n" not in message


def test_other_errors_are_json_too(client: TestClient) -> None:
    escapes = ("/static/../../pyproject.toml", "/static/..%2F..%2Fpyproject.toml")
    for url in ("/api/nothing", "/static/missing.js", *escapes):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["message"]
    assert client.post("/api/pair", params={"a": "dog", "b": "animal"}).status_code == 405


def test_page_and_assets_are_served_with_a_content_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("static/app.js", "static/style.css"):
        assert asset in page.text
        assert client.get("/" + asset).status_code == 200


def test_openapi_schema_documents_the_api(client: TestClient) -> None:
    schema = get_ok(client, "/openapi.json")
    endpoints = {"/api/word/{word}", "/api/neighbors", "/api/pair", "/api/suggest", "/api/info"}
    assert endpoints <= set(schema["paths"])
    assert "components" in schema["components"]["schemas"]["WordView"]["properties"]
    error = schema["paths"]["/api/neighbors"]["get"]["responses"]["404"]["content"]["application/json"]
    assert error["schema"]["$ref"].endswith("/ErrorBody")
    # FastAPI's docs pages would load scripts from a CDN.
    assert client.get("/docs").status_code == 404


def test_info_explains_every_measure(client: TestClient) -> None:
    info = get_ok(client, "/api/info")
    assert (info["components"], info["dim"], info["covariance"]) == (2, DIM, "spherical")
    assert set(info["measures"]) == set(measures.MEASURES) and all(info["measures"].values())


# ---------------------------------------------------------------------- w2gm serve
def parse_serve(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="w2gm")
    commands.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["serve", *argv])


def test_serve_listens_on_localhost_by_default() -> None:
    args = parse_serve("model.w2gm")
    assert (args.model, args.host, args.port, args.run) == ("model.w2gm", "127.0.0.1", 8000, commands.run)
    assert parse_serve("m", "--host", "::1", "--port", "9000").port == 9000


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_serve_refuses_bad_ports(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_serve("m", "--port", port)
    assert "port" in capsys.readouterr().err


def test_serve_reports_a_missing_model_and_a_busy_port(tmp_path: Path, model: KeyedMixtures) -> None:
    with pytest.raises(W2GMError):
        commands.run(parse_serve(str(tmp_path / "missing.w2gm")))
    model_path = tmp_path / "planted.w2gm"
    model.save(model_path)
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(W2GMError, match=f"cannot listen on 127.0.0.1:{port}"):
            commands.run(parse_serve(str(model_path), "--port", str(port)))


def test_w2gm_serve_on_the_command_line_reports_errors_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", str(tmp_path / "missing.w2gm")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("w2gm: error:") and error.count("\n") == 1


def test_w2gm_serve_serves_a_model_file(tmp_path: Path, model: KeyedMixtures) -> None:
    model_path = tmp_path / "planted.w2gm"
    model.save(model_path)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "w2gm.cli", "serve", str(model_path), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        # Printed once the socket listens, so the request below waits in its backlog at worst.
        assert f"http://127.0.0.1:{port}/" in server.stdout.readline()
        response = httpx.get(f"http://127.0.0.1:{port}/api/word/bank", params={"k": 2}, timeout=30)
        assert response.status_code == 200 and response.json()["word"] == "bank"
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---------------------------------------------------------------------- the page in Chromium
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1440,1000",
]


@pytest.fixture
def live_url(model: KeyedMixtures) -> Iterator[str]:
    """The explorer on a free loopback port, served by uvicorn in a thread."""
    with serving(create_app(model)) as url:
        yield url


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` on a free loopback port, served by uvicorn in a thread: its URL."""
    listener = commands.listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def test_kept_alive_connections_answer_at_once(live_url: str) -> None:
    """Nagle's algorithm on the server, meeting the client's delayed ACK, holds every
    response on a kept-alive connection for about 40 ms; an /api/info takes ~1 ms."""
    with httpx.Client(base_url=live_url) as client:
        client.get("api/info")
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert client.get("api/info").status_code == 200
            times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.025, times


def severe_console_messages(driver: Any) -> list[str]:
    """Errors the page's console received since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def chromium() -> Any:
    """A headless Chromium under selenium that keeps the console log; a skip where Chromium
    is not installed."""
    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver_path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    # Imported only now: with Chromium present, a missing selenium is a failure, not a skip.
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver keeps Selenium Manager from looking for (or downloading) one.
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def waiting(driver: Any) -> Any:
    """A 15 s wait that tries again when the page re-renders an element between finding and
    reading it (the stale element of a card list drawn twice)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,))


def test_page_in_chromium(live_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    driver = chromium()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    try:
        wait = waiting(driver)
        driver.get(live_url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".examples a"))
        box = driver.find_element(By.ID, "query")
        box.send_keys("bank", Keys.ENTER)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".component-card")) == 2)
        senses = [
            {word_of(a.text) for a in card.find_elements(By.CSS_SELECTOR, ".neighbours a")}
            for card in driver.find_elements(By.CSS_SELECTOR, ".component-card")
        ]
        assert senses[0] and senses[1] and senses[0] <= WATER and senses[1] <= MONEY
        assert len(driver.find_elements(By.CSS_SELECTOR, ".map a.query")) == 2
        screenshot = tmp_path / "explorer-bank.png"
        assert driver.save_screenshot(str(screenshot))

        # A neighbour is a link to its word, with its own component's card highlighted.
        first = driver.find_element(By.CSS_SELECTOR, ".component-card .neighbours a")
        target, _, component = first.text.rpartition(":")
        first.click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h2").text == target)
        focused = driver.find_elements(By.CSS_SELECTOR, ".component-card.focus")
        assert [card.get_attribute("data-component") for card in focused] == [component]

        # Content-Security-Policy violations and script errors land in the console.
        assert not severe_console_messages(driver)

        # A mistyped word says so and offers the close one; the browser logs only the 404.
        driver.get(live_url + "#/word/bnak")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".error"))
        assert "bnak" in driver.find_element(By.CSS_SELECTOR, ".error").text
        assert "bank" in [a.text for a in driver.find_elements(By.CSS_SELECTOR, "main a")]
        assert all("api/word/bnak" in message for message in severe_console_messages(driver))

        driver.get(live_url + "#/pair/dog/animal")
        wait.until(lambda d: d.find_elements(By.ID, "entailment"))
        assert "dog ⊨ animal" in driver.find_element(By.ID, "entailment").text
        assert len(driver.find_elements(By.CSS_SELECTOR, ".heatmap rect")) == 4
        pair_screenshot = tmp_path / "explorer-pair.png"
        assert driver.save_screenshot(str(pair_screenshot))

        assert not severe_console_messages(driver)
    finally:
        driver.quit()
    with capsys.disabled():
        print(f"\nexplorer screenshots: {screenshot} {pair_screenshot}")


#: What the map's labels must measure on a phone's screen, in CSS pixels.
READABLE_PX = 11


def test_phone_width_in_chromium(live_url: str) -> None:
    """At 420 px the map is drawn at the panel's width, so that its labels keep their size,
    and the card "Which sense?" chooses is scrolled into view."""
    driver = chromium()
    from selenium.webdriver.common.by import By

    try:
        driver.set_window_size(420, 700)
        wait = waiting(driver)
        driver.get(live_url + "#/word/bank")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".component-card")) == 2)
        assert driver.execute_script("return window.innerWidth") <= 420
        sizes = driver.execute_script("""
            const plot = document.querySelector('.map svg');
            const scale = plot.getBoundingClientRect().width / plot.viewBox.baseVal.width;
            return [...plot.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
        """)
        assert sizes and min(sizes) >= READABLE_PX - 0.01, sizes

        # the money card is the second, below the fold of a phone until it is chosen
        driver.find_element(By.ID, "context").send_keys(" ".join(sorted(MONEY)))
        driver.find_element(By.CSS_SELECTOR, "#context-form button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".component-card.chosen"))
        chosen = driver.find_element(By.CSS_SELECTOR, ".component-card.chosen")
        assert chosen.get_attribute("data-component") == "1"
        top, bottom, height = driver.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom, window.innerHeight];", chosen)
        assert top >= 0 and bottom <= height, (top, bottom, height)
        assert not severe_console_messages(driver)
    finally:
        driver.quit()


def test_first_page_of_a_one_component_model_skips_the_most_frequent_words() -> None:
    """No second component to show: the most frequent words under 1 in 1,000 tokens, so
    not the function words at the top of a Zipf vocabulary."""
    words = [f"w{i}" for i in range(5000)]
    counts = (1e6 / np.arange(1, len(words) + 1)).astype(np.int64)  # Zipf: w0 is 1/9 of the text
    table = MixtureTable.initialise(len(words), 1, 4, "spherical", 0.05, torch.Generator().manual_seed(0))
    model = KeyedMixtures(Vocabulary(words, counts), table)
    examples, note = worth_exploring(model)
    share = counts / counts.sum()
    first = int(np.argmax(share <= MAX_FREQUENCY))
    assert first > 0 and examples == words[first:first + 8] and note == "frequent words"
    small = MixtureTable(*(t[:10] for t in table.parameters().values()))
    tiny = KeyedMixtures(Vocabulary(words[:10], counts[:10]), small)
    assert worth_exploring(tiny)[0] == words[:8]  # every word is frequent: the most frequent
