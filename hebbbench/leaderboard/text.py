"""The board as text: an aligned table for a terminal, and the markdown of ``README.md``."""

from __future__ import annotations

import re
from typing import Sequence

from hebbbench.leaderboard.paper import paper_markdown
from hebbbench.leaderboard.sections import COLUMNS, EMPTY, METHOD, Section, row_cells


def render_table(board: Sequence[Section], tasks: Sequence[str]) -> str:
    """The board's sections of ``tasks`` as aligned plain-text tables for a terminal."""
    lines = []
    for name in tasks:
        lines.append(f"== {name} ==")
        mine = [s for s in board if s.task == name]
        if not mine:
            lines.append(EMPTY.replace("`", ""))
        for section in mine:
            lines.append(section.title)
            rows = [list(COLUMNS)] + [row_cells(section, i, r) for i, r in enumerate(section.rows)]
            widths = [max(len(cells[c]) for cells in rows) for c in range(len(COLUMNS))]
            lines.extend("  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip() for cells in rows)
        lines.append("")
    return "\n".join(lines)




#: Characters that markdown (or the HTML it may carry) would read as markup in a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>|])")


def md_escape(text: str) -> str:
    """``text`` as literal characters in a markdown table cell (one line, markup escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def render_markdown(board: Sequence[Section], tasks: Sequence[str]) -> str:
    """The board's sections of ``tasks`` as markdown: the rendered ``leaderboard/README.md``."""
    out = ["# hebbbench leaderboard", "",
           "Rendered by `hebbbench submit` from `submissions/*.json`; do not edit by hand. "
           "The same board, with sortable tables and a chart: `index.html`.", "", METHOD, ""]
    for name in tasks:
        out += [f"## {name}", ""]
        mine = [s for s in board if s.task == name]
        if not mine:
            out += [EMPTY, ""]
        for section in mine:
            out += [f"### {section.title}", "", "| " + " | ".join(COLUMNS) + " |",
                    "|" + "---|" * len(COLUMNS)]
            for i, r in enumerate(section.rows):
                cells = row_cells(section, i, r)
                for own in (1, 2, 10, 11):  # the entrant's own text: name, family, why unverifiable, why no sandbox
                    cells[own] = md_escape(cells[own])
                if r.entry["link"]:
                    cells[1] = f"[{cells[1]}]({r.entry['link']})"
                cells[1] += f" ({md_escape(', '.join(r.entry['authors']))})"
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    out += paper_markdown(tasks)
    out += ["## Submitting", "",
            "```bash",
            "hebbbench evaluate my_agent.py --task ant --holdout long-front --output results.json",
            "hebbbench submit results.json --name \"My agent\" --authors \"A. Author\" "
            "--family hebbian --generations G --population P --env-steps STEPS",
            "```", "",
            "G, P and STEPS are the training budget (ES generations, population size, environment "
            "steps in all; `hebbbench train` logs `env_steps` in its run's `log.jsonl`); 0 for an "
            "untrained agent. A method that is not an evolution strategy (gradient RL such as PPO) "
            "leaves out `--generations` and `--population`: its budget is shown as env steps alone. "
            "One results file per fold covered: one, or all five.", "",
            "`hebbbench submit` checks the schema, protocol version, every variation, the "
            "protocol's seeds and episode count, each summary against its per-episode returns "
            "and the integrity hash, and refuses duplicates. `hebbbench verify` re-runs "
            "an entry and records the level its numbers reached (exact, statistical or FAILED).", ""]
    return "\n".join(out)


#: The line that closes a page's generated block (each page has its own opening line).
END = "<!-- end of the generated block -->"


def replace_block(page: str, block: str, begin: str) -> str:
    """``page`` with its generated block (from the line ``begin`` to :data:`END`) replaced by
    ``block``; ``ValueError`` if the page has no such block (its two markers, in order)."""
    start, stop = page.find(begin), page.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"the page has no generated block: add the two lines {begin!r} and {END!r} where it goes")
    return page[:start] + block.rstrip("\n") + page[stop + len(END):]
