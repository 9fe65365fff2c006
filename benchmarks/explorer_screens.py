"""The explorer's screenshots in docs/screens/, taken in headless Chromium.

    python benchmarks/explorer_screens.py MODEL [--out docs/screens] [--prefix sample]

Needs Debian's ``chromium`` and ``chromium-driver`` (and ``pngquant``, if present, to make
the files small).  Takes, at 1280 px: the first page (the suggested words) and ``rock``
with a sentence in the "Which sense?" box; at 420 px (a phone): ``bank`` after "Which
sense?" as the screen shows it (the chosen card scrolled into view), and the whole page
down to its map.  Prints the map's label sizes as drawn, in CSS pixels.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402

from w2gm.explorer import commands  # noqa: E402
from w2gm.explorer.app import create_app  # noqa: E402
from w2gm.keyed import KeyedMixtures  # noqa: E402

SENTENCES = {
    "rock": "the band played loud rock music on their new album",
    "bank": "he deposited the money at the bank and took out a loan",
}
PHONE_HEIGHT = 860


def serve(model: KeyedMixtures) -> tuple[str, uvicorn.Server]:
    listener = commands.listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(model), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", server


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)


def label_sizes(driver: Any) -> list[float]:
    """The font size of each of the map's labels on the screen: its size in the drawing
    times the scale at which the drawing is shown."""
    return sorted(set(driver.execute_script("""
        const plot = document.querySelector('.map svg');
        const scale = plot.getBoundingClientRect().width / plot.viewBox.baseVal.width;
        return [...plot.querySelectorAll('text')].map(
            t => Math.round(10 * parseFloat(getComputedStyle(t).fontSize) * scale) / 10);
    """)))


def shrink(path: Path) -> None:
    if shutil.which("pngquant"):
        subprocess.run(["pngquant", "--force", "--skip-if-larger", "--output", str(path), "--", str(path)],
                       check=False)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screens"))
    parser.add_argument("--prefix", default="sample")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url, server = serve(KeyedMixtures.load(args.model))
    driver = browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)

    def open_word(word: str) -> None:
        driver.get(f"{url}#/word/{word}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".component-card"))
        box = driver.find_element(By.ID, "context")
        box.send_keys(SENTENCES[word])
        driver.find_element(By.CSS_SELECTOR, "#context-form button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".component-card.chosen"))

    def save(name: str) -> None:
        path = out / f"{args.prefix}-{name}.png"
        driver.save_screenshot(str(path))
        shrink(path)

    try:
        driver.set_window_size(1280, 400)  # the first page is one panel
        driver.get(url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".examples a"))
        print("first page suggests:", [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".examples a")])
        save("home-1280")
        driver.set_window_size(1280, 900)
        open_word("rock")
        driver.execute_script("window.scrollTo(0, 0)")
        save("rock-1280")
        print("1280 px: map label font sizes as drawn (CSS px):", label_sizes(driver))

        driver.set_window_size(420, PHONE_HEIGHT)
        open_word("bank")
        chosen = driver.find_element(By.CSS_SELECTOR, ".component-card.chosen")
        top, bottom = driver.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom];", chosen)
        print(f"420 px: the chosen card spans {top:.0f}-{bottom:.0f} px of a {PHONE_HEIGHT} px screen")
        save("bank-420")
        print("420 px: map label font sizes as drawn (CSS px):", label_sizes(driver))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(420, height)
        driver.execute_script("window.scrollTo(0, 0)")
        save("bank-420-page")
    finally:
        driver.quit()
        server.should_exit = True


if __name__ == "__main__":
    main()
