"""Drive the web demo with authentication on, in a real headless Chromium (run inside ``unshare -n``).

It starts `theo serve` with an API key and ``THEO_DEMO_PASSWORD``, opens the page once without the demo
password (the server must refuse it) and once with it (playwright answers the Basic challenge as a person
at the browser's login prompt would), starts a call and waits for a final transcript. It records every
request the page made and the Authorization each carried, so the test can check the page never held the key.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.evalsets import load_set  # noqa: E402
from bench.harness import start_server  # noqa: E402
from tests.webrtc.browser_driver import CHROMIUM, CHROMIUM_FLAGS, speech_wav  # noqa: E402

KEY = "sk-theo-browser-test-5d1e"
DEMO_PASSWORD = "demo-browser-pass-9"


def drive(out: Path, home: Path) -> dict[str, Any]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Request, sync_playwright

    utterance = load_set("librivox_pocketsphinx_en")[0]
    work = Path(tempfile.mkdtemp(prefix="theo-browser-auth-"))
    wav = work / "mic.wav"
    speech_wav(wav, utterance.path)
    server = start_server(
        home,
        work / "server.log",
        preload=("whisper-tiny.en",),
        env={
            "THEO_WEBRTC_ICE_HOSTS": '["127.0.0.1"]',
            "THEO_API_KEYS": KEY,
            "THEO_DEMO_PASSWORD": DEMO_PASSWORD,
        },
    )
    result: dict[str, Any] = {"reference": utterance.text, "url": server.url, "key": KEY}
    requests: list[dict[str, Any]] = []
    console: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}%noloop"],
            )
            anonymous = browser.new_page()
            try:  # headless Chromium has no login prompt to show: the navigation fails on the challenge
                result["without_password"] = str(anonymous.goto(server.url + "/").status)  # type: ignore[union-attr]
            except PlaywrightError as exc:
                result["without_password"] = str(exc).splitlines()[0]
            anonymous.close()
            context = browser.new_context(http_credentials={"username": "me", "password": DEMO_PASSWORD})
            page = context.new_page()

            def record(request: Request) -> None:
                requests.append(
                    {
                        "url": request.url,
                        "method": request.method,
                        "authorization": request.headers.get("authorization"),
                    }
                )

            page.on("request", record)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            result["page_status"] = page.goto(server.url + "/").status  # type: ignore[union-attr]
            page.wait_for_function(
                "document.querySelector('#voice option[value*=\"::\"]') !== null", timeout=60_000
            )
            page.click("#call")
            page.wait_for_function("window.theoDemo.state === 'live'", timeout=30_000)
            page.wait_for_function("window.theoDemo.finals.length > 0", timeout=60_000)
            result["finals"] = page.evaluate("window.theoDemo.finals")
            result["page_text"] = page.locator("body").inner_text()
            page.close()
            browser.close()
    except Exception as exc:  # written out with what was seen, for the test to show
        result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        server.stop()
        result["server_log_tail"] = server.log()[-3000:]
        result["requests"] = requests
        result["console"] = console
        out.write_text(json.dumps(result, indent=2, default=str))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--home", type=Path, default=REPO / ".cache" / "theo-test-home")
    args = parser.parse_args()
    started = time.monotonic()
    drive(args.out, args.home)
    print(f"done in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
