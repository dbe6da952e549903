"""The board page's chart script run by Node.js on a minimal DOM: its legend fits inside the SVG.

Chromium is the real browser test (tests/test_leaderboard_html.py); this one needs only
``node`` and runs the page's own ``page.js`` unchanged, so layout arithmetic is checked
wherever Node is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import submission

from hebbbench import leaderboard

NODE = shutil.which("node") or shutil.which("nodejs")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

#: A DOM just large enough for page.js: elements record their attributes and children;
#: after the script runs, every chart's viewBox and text rows are printed as JSON.
HARNESS = """
const fs = require("fs");
const page = fs.readFileSync(0, "utf8");
const data = page.match(/<script type="application\\/json" id="board-data">([\\s\\S]*?)<\\/script>/)[1];
const script = page.match(/<script>\\n([\\s\\S]*?)<\\/script>/)[1];
function element(name) {
  return {name, attributes: {}, children: [], textContent: "",
          setAttribute(key, value) { this.attributes[key] = String(value); },
          appendChild(child) { this.children.push(child); return child; }};
}
const charts = {};
global.document = {
  getElementById(id) {
    if (id === "board-data") { return {textContent: data}; }
    return charts[id] || (charts[id] = element("svg"));
  },
  createElementNS(namespace, name) { return element(name); },
  querySelectorAll() { return []; },
};
eval(script);
const out = {};
for (const [id, svg] of Object.entries(charts)) {
  out[id] = {viewBox: svg.attributes.viewBox,
             texts: svg.children.filter(c => c.name === "text" && c.attributes.y !== undefined)
                                .map(c => ({y: Number(c.attributes.y), text: c.textContent}))};
}
console.log(JSON.stringify(out));
"""


def drawn_charts(page: str) -> dict:
    """Run the page's own script under Node; each chart's viewBox and text elements."""
    done = subprocess.run([NODE, "-e", HARNESS], input=page, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("entries", [1, 10, 25])
def test_the_chart_legend_lies_inside_the_viewbox_for_any_number_of_entries(entries):
    board = [submission("ant", ["long-front"], f"Ant entry number {i} with a long descriptive name", loc=10.0 * i)
             for i in range(entries)]
    chart = drawn_charts(leaderboard.render(board, "html"))["chart-ant"]
    _, _, width, height = (float(v) for v in chart["viewBox"].split())
    labels = [t for t in chart["texts"] if t["text"].startswith("Ant entry number")]
    assert len(labels) == entries
    assert all(t["y"] + 4 <= height for t in chart["texts"]), (height, max(t["y"] for t in chart["texts"]))
    assert height >= 380  # never smaller than the plot itself


def test_the_committed_board_page_labels_every_ant_entry_inside_its_chart():
    page = Path(__file__).resolve().parents[1] / "leaderboard" / "index.html"
    board = leaderboard.load_board(page.parent)
    chart = drawn_charts(page.read_text(encoding="utf-8"))["chart-ant"]
    height = float(chart["viewBox"].split()[3])
    names = {s["entry"]["name"] for s in board if s["task"] == "ant"}
    shown = {re.sub(r" \(not ranked\)$", "", t["text"]) for t in chart["texts"] if t["y"] + 4 <= height}
    assert names <= shown
