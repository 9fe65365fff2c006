"""The explorer's sense features: the context box's API, usage and inactive components on the
cards, and the page in Chromium at a phone's width (posterior bars, the chosen card, folded
inactive cards, map labels that do not overlap, nothing wider than the screen).

The model is the hand-planted one of ``test_explorer`` with a third component per word,
far from everything and never used: with usage counts saying so, it is inactive.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from test_explorer import (  # noqa: F401  (live_url is a fixture, used by name)
    MONEY,
    WATER,
    chromium,
    live_url,
    planted_model,
    severe_console_messages,
    word_of,
)

from w2gm.explorer.app import create_app
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.usage import Usage

#: bank's first two components share its tokens 60/40; every third component is unused.
BANK_COUNTS = [60, 40, 0]


def with_unused_component(model: KeyedMixtures) -> KeyedMixtures:
    table = model.input
    generator = torch.Generator().manual_seed(1)
    far = torch.zeros(len(model.vocab), 1, model.dim)
    far[..., -1] = 4.0
    far += 0.3 * torch.randn(far.shape, generator=generator)
    three = MixtureTable(
        torch.cat([table.means, far], 1),
        torch.cat([table.log_variances, table.log_variances[:, :1]], 1),
        torch.cat([table.logits, torch.full((len(model.vocab), 1), -1.0)], 1),
    )
    counts = torch.tensor([[50, 50, 0]] * len(model.vocab))
    counts[model.vocab.index["bank"]] = torch.tensor(BANK_COUNTS)
    return KeyedMixtures(model.vocab, three, None, {"window": 5}, usage=Usage.from_counts(counts))


@pytest.fixture(scope="module")
def model() -> KeyedMixtures:
    return with_unused_component(planted_model())


@pytest.fixture(scope="module")
def client(model: KeyedMixtures) -> Iterator[TestClient]:
    with TestClient(create_app(model)) as test_client:
        yield test_client


def test_sense_of_a_sentence_follows_its_words(client: TestClient) -> None:
    river = client.get("/api/sense", params={"word": "bank", "context": "the river shore and the water"}).json()
    money = client.get("/api/sense", params={"word": "bank", "context": "a loan of cash from the bank"}).json()
    assert river["chosen"] == 0 and money["chosen"] == 1
    assert river["posterior"][0] > 0.75 and money["posterior"][1] > 0.75  # "the" votes for neither
    assert river["posterior"][2] == 0.0  # inactive: never chosen
    assert money["context_words"] == ["loan", "of", "cash", "the"]  # the known words ("a", "from" are not)
    unknown = client.get("/api/sense", params={"word": "bnak", "context": "river"})
    assert unknown.status_code == 404 and "bank" in unknown.json()["suggestions"]


def test_cards_carry_usage_and_the_inactive_flag(client: TestClient) -> None:
    cards = client.get("/api/word/bank").json()["components"]
    assert [c["active"] for c in cards] == [True, True, False]
    assert [c["usage"] for c in cards] == pytest.approx([0.6, 0.4, 0.0])
    for card in cards:  # neighbours leave every word's unused third component out
        assert all(n["component"] != 2 for n in card["neighbours"])
    everything = client.get("/api/word/bank", params={"all": "true", "k": 50}).json()["components"]
    assert any(n["component"] == 2 for n in everything[2]["neighbours"])
    near = client.get("/api/neighbors", params={"q": "river:0", "k": 100}).json()["neighbours"]
    assert near and all(n["component"] != 2 for n in near)


def test_page_at_phone_width_in_chromium(live_url: str, tmp_path: Path) -> None:  # noqa: F811
    driver = chromium()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        wait = WebDriverWait(driver, 15)
        for width in (1280, 420):
            driver.set_window_size(width, 900)
            driver.get("about:blank")  # a fresh page, not the previous width's
            driver.get(live_url + "#/word/bank")
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".component-card")) == 3)
            cards = driver.find_elements(By.CSS_SELECTOR, ".component-card")
            # the unused component is greyed and folded; the others list their senses
            assert [c.get_attribute("class").split() for c in cards][2][-1] == "inactive"
            assert not cards[2].find_element(By.TAG_NAME, "details").get_attribute("open")
            assert not cards[2].find_element(By.CSS_SELECTOR, ".neighbours a").is_displayed()
            senses = [{word_of(a.text) for a in c.find_elements(By.CSS_SELECTOR, ".neighbours a")} for c in cards[:2]]
            assert senses[0] <= WATER and senses[1] <= MONEY
            assert "usage" in cards[0].text and "0.600" in cards[0].text

            box = driver.find_element(By.ID, "context")
            box.send_keys("we sat on the river shore by the water", Keys.ENTER)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".component-card.chosen"))
            chosen = driver.find_elements(By.CSS_SELECTOR, ".component-card.chosen")
            assert [c.get_attribute("data-component") for c in chosen] == ["0"]
            assert len(driver.find_elements(By.CSS_SELECTOR, ".posterior-bar")) == 3
            assert "bank:0" in driver.find_element(By.ID, "context-result").text

            # no two map labels overlap, as the browser lays them out
            boxes = driver.execute_script(
                "return [...document.querySelectorAll('.map text')].map(t => {"
                "const b = t.getBBox(); return [b.x, b.y, b.width, b.height, t.textContent]; });"
            )
            assert len(boxes) >= 3
            for i, (x, y, w, h, a) in enumerate(boxes):
                for x2, y2, w2, h2, b in boxes[i + 1 :]:
                    overlap = min(x + w, x2 + w2) - max(x, x2), min(y + h, y2 + h2) - max(y, y2)
                    assert min(overlap) <= 0.5, (a, b)
            # nothing is wider than the window, the compare form included
            overflow = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth,"
                " document.getElementById('compare').getBoundingClientRect().right];"
            )
            assert overflow[0] <= overflow[1] and overflow[2] <= overflow[1], overflow
            screenshot = tmp_path / f"explorer-senses-{width}.png"
            if width == 420:  # the whole page, not only the first screen
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(width, height + 120)
            assert driver.save_screenshot(str(screenshot))
        assert not severe_console_messages(driver)
    finally:
        driver.quit()
