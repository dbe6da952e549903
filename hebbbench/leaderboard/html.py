"""The board as one self-contained web page: sortable tables and a chart per task.

The page's stylesheet and script are package data (``page.css``, ``page.js`` beside this
module), inlined so the page needs no network.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources
from typing import Sequence

from hebbbench.envs import PAPER_HOLDOUT, variations
from hebbbench.leaderboard.paper import PAPER_NOTE, PAPER_TABLES
from hebbbench.leaderboard.scores import Row
from hebbbench.leaderboard.sections import COLUMNS, EMPTY, METHOD, Section, number, row_cells


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    """The text of the package-data file ``name`` (``page.css`` or ``page.js``)."""
    return resources.files("hebbbench.leaderboard").joinpath(name).read_text(encoding="utf-8")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _num_cell(value: float, ci: tuple[float, float]) -> str:
    interval = f"[{number(ci[0])}, {number(ci[1])}]"
    return f'<td class="num" data-value="{value!r}">{number(value)}<span class="ci">{interval}</span></td>'


def _html_section(section: Section) -> list[str]:
    out = [f"<h3>{_esc(section.title)}</h3>", '<table class="board sortable">',
           "<thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in COLUMNS) + "</tr></thead>", "<tbody>"]
    for i, r in enumerate(section.rows):
        cells = row_cells(section, i, r)
        name = _esc(cells[1])
        if r.entry["link"]:
            name = f'<a href="{_esc(r.entry["link"])}">{name}</a>'
        authors = _esc(", ".join(r.entry["authors"]))
        budget = r.entry["budget"]
        out.append(
            f'<tr data-entry="{_esc(r.submission["id"])}">'
            f'<td class="num" data-value="{i + 1 if section.ranked else ""}">{_esc(cells[0])}</td>'
            f'<td class="name" data-value="{_esc(r.entry["name"])}">{name}<span class="authors">{authors}</span></td>'
            f'<td data-value="{_esc(cells[2])}">{_esc(cells[2])}</td>'
            f'<td data-value="{_esc(cells[3])}">{_esc(cells[3])}</td>'
            + _num_cell(r.heldout.mean, r.heldout.mean_ci) + _num_cell(r.heldout.iqm, r.heldout.iqm_ci)
            + _num_cell(r.train.mean, r.train.mean_ci) + _num_cell(r.train.iqm, r.train.iqm_ci)
            + f'<td class="num" data-value="{_esc(cells[8].split("/")[0])}">{_esc(cells[8])}</td>'
            f'<td data-value="{budget["env_steps"]}">{_esc(cells[9])}</td>'
            f'<td data-value="{_esc(cells[10])}">{_esc(cells[10])}</td>'
            f'<td data-value="{_esc(cells[11])}">{_esc(cells[11])}</td></tr>')
    return out + ["</tbody></table>"]


def _chart_data(rows: Sequence[Row], task: str) -> dict:
    entries = []
    for r in rows:
        points = [{"variation": name, "split": split, "mean": s.mean, "lo": s.mean_ci[0], "hi": s.mean_ci[1]}
                  for (name, split), s in r.by_variation.items()]
        entries.append({"id": r.submission["id"], "name": r.entry["name"],
                        "ranked": r.submission["full_protocol"], "points": points})
    return {"task": task, "variations": [v.name for v in variations(task)], "entries": entries}


def render_html(board: Sequence[Section], tasks: Sequence[str]) -> str:
    """The board's sections of ``tasks`` as one self-contained HTML page (inline CSS, JS, SVG)."""
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>hebbbench leaderboard</title>", f"<style>\n{_asset('page.css')}</style></head><body>",
           "<h1>hebbbench leaderboard</h1>",
           f'<p class="note">{_esc(METHOD)} Click a column header to sort.</p>']
    charts = []
    for name in tasks:
        mine = [s for s in board if s.task == name]
        out.append(f'<section class="task" id="task-{name}"><h2>{name}</h2>')
        if mine:
            out += [f'<figure><svg class="chart" id="chart-{name}" role="img" '
                    f'aria-label="{name}: mean episode return per variation with 95% CIs"></svg>',
                    "<figcaption>Mean episode return of each entry on each variation, held out "
                    "(filled) and as a training variation (hollow), with 95% stratified bootstrap "
                    "confidence intervals.</figcaption></figure>"]
            charts.append(_chart_data([r for section in mine for r in section.rows], name))
        else:
            out.append(f'<p class="empty">{_esc(EMPTY.replace("`", ""))}</p>')
        for section in mine:
            out += _html_section(section)
        out.append("</section>")
    out += ['<section id="paper"><h2>Reported in the paper</h2>',
            f'<p class="note">{_esc(PAPER_NOTE.replace("*", ""))}</p>']
    for name in tasks:
        table = PAPER_TABLES[name]
        heads = "".join(f"<th>{_esc(c)}{' (held out)' if c == PAPER_HOLDOUT[name] else ''}</th>"
                        for c in table["columns"])
        out += [f"<h3>{name}</h3>", f'<p class="note">{_esc(table["caption"])}</p>',
                f"<table><thead><tr><th>model</th>{heads}</tr></thead><tbody>"]
        out += ["<tr><td>" + _esc(model) + "</td>" + "".join(f'<td class="num">{_esc(v or "-")}</td>' for v in values)
                + "</tr>" for model, values in table["rows"]]
        out.append("</tbody></table>")
    data = json.dumps({"tasks": charts}, sort_keys=True).replace("<", "\\u003c")
    out += ["</section>", f'<script type="application/json" id="board-data">{data}</script>',
            f"<script>\n{_asset('page.js')}</script>", "</body></html>", ""]
    return "\n".join(out)
