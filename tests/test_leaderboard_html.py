"""The leaderboard page in a real headless Chromium: rows present, chart drawn, sorting works."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import submission

from hebbbench import leaderboard
from hebbbench.envs import variations

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def chromium(page: Path, *flags: str) -> str:
    """Run headless Chromium on ``page`` with ``flags``; return its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *flags, page.as_uri()],
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A rendered board with ranked, five-fold and partial entries on both tasks."""
    board = [submission("ant", ["long-front"], "Ant <b>one</b>", loc=300.0),
             submission("ant", ["long-front"], "Ant two", loc=200.0),
             submission("ant", [v.name for v in variations("ant")], "Ant all folds", loc=250.0),
             submission("car", ["pushed-right"], "Car partial", episodes=12, loc=40.0)]
    path = tmp_path_factory.mktemp("board") / "index.html"
    path.write_text(leaderboard.render(board, "html"), encoding="utf-8")
    return path, board


def test_every_entry_has_a_row_and_the_charts_are_drawn(page):
    path, board = page
    dom = chromium(path, "--dump-dom")
    for entry in board:
        assert len(re.findall(f'<tr data-entry="{entry["id"]}"', dom)) == 1
    assert "Ant &lt;b&gt;one&lt;/b&gt;" in dom and "<b>one</b>" not in dom  # names are text, not markup
    charts = dict(re.findall(r'<svg class="chart" id="chart-(\w+)"[^>]*?data-points="(\d+)"', dom))
    # ant: 2 one-fold entries (5 points each) + 5 folds (5 test + 5 train points); car: 5 points.
    assert charts == {"ant": "20", "car": "5"}
    assert dom.count('data-rendered="true"') == 2
    assert dom.count("<circle") == 20 + 5 + 2 * 2  # points plus the two legend markers per chart
    assert "No entries yet" not in dom and "Reported in the paper" in dom


def test_clicking_a_header_sorts_the_rows(page, tmp_path):
    path, board = page
    clicked = tmp_path / "clicked.html"
    # Ranked tables start in descending held-out mean; two clicks on that header reverse them.
    header = "document.querySelectorAll('#task-ant table.sortable')[1].tHead.rows[0].cells[4]"
    click = f"<script>{header}.click(); {header}.click();</script>"
    clicked.write_text(path.read_text().replace("</body>", click + "</body>"))
    dom = chromium(clicked, "--dump-dom")
    ant = dom[dom.index('id="task-ant"'):]
    ranked = ant[ant.index("held out long-front (the paper"):ant.index("</section>")]
    order = re.findall(r'<tr data-entry="([\w-]+)"', ranked)[:2]
    assert order == [board[1]["id"], board[0]["id"]]  # ascending held-out mean: 200, then 300
    assert 'aria-sort="ascending"' in ranked


def test_screenshot_shows_a_page(page, tmp_path):
    path, _ = page
    shot = tmp_path / "shot.png"
    chromium(path, f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
