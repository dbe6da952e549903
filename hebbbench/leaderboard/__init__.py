"""The leaderboard: validated submissions in, a ranked table, markdown and a web page out.

A board is a folder (``leaderboard/`` by default)::

    submissions/<id>.json   one validated submission each (see :mod:`.submission`)
    README.md               rendered from the submissions; never edited by hand
    index.html              the same, self-contained: sortable tables and a chart
    .lock                   held while a command changes the board (not part of it)

Scores follow rliable (Agarwal et al., NeurIPS 2021): for each entry the held-out (test)
score pools the test episodes of every fold it covers, the train score pools the training
variations' episodes; each gets a mean and an IQM with a 95% percentile bootstrap CI,
stratified so that each (fold, variation) sample is resampled within itself. Entries are
ranked by held-out mean, and only against entries that cover the same folds with full
protocol runs; the others are listed apart, unranked.

Modules: :mod:`.submission` (the submission format and its checks), :mod:`.board` (the
folder: load, lock, submit, verify, re-render), :mod:`.records` (verification records that
check themselves), :mod:`.scores` (statistics),
:mod:`.sections` (how rows are grouped and shown), :mod:`.text` (terminal table and
markdown), :mod:`.html` (the page; its CSS and JS are package data), :mod:`.paper` (the
paper's tables).
"""

from hebbbench.leaderboard.board import (
    DEFAULT_DIR,
    FORMATS,
    board_lock,
    check_board,
    load_board,
    render,
    render_files,
    submit,
    verify,
    write_board,
)
from hebbbench.leaderboard.scores import Row, Score, row, score
from hebbbench.leaderboard.sections import sections
from hebbbench.leaderboard.submission import SubmissionError, make_submission, validate_submission

__all__ = [
    "DEFAULT_DIR",
    "FORMATS",
    "Row",
    "Score",
    "SubmissionError",
    "board_lock",
    "check_board",
    "load_board",
    "make_submission",
    "render",
    "render_files",
    "row",
    "score",
    "sections",
    "submit",
    "validate_submission",
    "verify",
    "write_board",
]
