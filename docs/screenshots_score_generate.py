"""Write docs/score.svg and docs/generate.svg from the real app with a trained model.

    rnngen train travel --out travel --epochs 1 --hidden 64 --emb 32 --max-minutes 4
    .venv/bin/python docs/screenshots_score_generate.py travel
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

from rnngen.generate import SamplingSettings
from rnngen.lm import LanguageModel
from rnngen.tui.app import make_app
from rnngen.tui.screens.generate import GeneratePane
from rnngen.tui.screens.score import ScorePane
from rnngen.tui.widgets.heatmap import HeatMap

DOCS = Path(__file__).resolve().parent
SENTENCE = "show me the cheapest flights from boston to denver on tuesday morning ."
PROMPT = "show me"
PAUSE_AFTER = 14  # words streamed when the Generate screenshot is taken


async def wait_until(pilot, predicate, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise SystemExit(f"the app did not get there in time (focus {pilot.app.focused})")
        await pilot.pause(0.05)


async def click_into(pilot, selector: str) -> None:
    """Click until the field has the focus (showing a tab moves the focus once more a moment later)."""
    for _ in range(50):
        await pilot.click(selector)
        await pilot.pause(0.1)
        if pilot.app.focused is pilot.app.query_one(selector):
            return
    raise SystemExit(f"{selector} never took the focus")


async def main(model: str, size: tuple[int, int]) -> None:
    lm = LanguageModel.load(model)
    reached, release = threading.Event(), threading.Event()
    real = lm.generate

    def paused(prompt, settings, count, alternatives=5):
        for n, item in enumerate(real(prompt, settings, count, alternatives)):
            if n == PAUSE_AFTER:
                reached.set()
                release.wait(30)
            yield item

    lm.generate = paused
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.focused is not None)
        app.lm = lm
        await pilot.press("3")
        await click_into(pilot, "#score-input")
        await pilot.press(*SENTENCE, "enter")
        heat = app.query_one(HeatMap)
        await wait_until(pilot, lambda: heat.words)
        heat.focus()
        await pilot.press(*["right"] * 4)
        await pilot.pause(0.3)
        app.save_screenshot("score.svg", str(DOCS))

        await pilot.press("escape")
        await pilot.press("4")
        await click_into(pilot, "#gen-prompt")
        await pilot.press(*PROMPT)
        app.query_one("#gen-seed").value = "7"
        app.query_one("#gen-count").value = "3"
        pane = app.query_one(GeneratePane)
        pane.action_generate()
        await asyncio.to_thread(reached.wait, 30)
        await wait_until(pilot, lambda: len(pane.steps) >= PAUSE_AFTER)
        await pilot.pause(0.3)
        app.save_screenshot("generate.svg", str(DOCS))
        release.set()
        await wait_until(pilot, lambda: not pane.running)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "travel", (120, 35)))
