"""README's commands: the test command is the one CI runs, the user's install is the light one,
and every link of README and docs/ points to a file of the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_blocks():
    """README's ```bash blocks, each as its command lines (comments left out)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [[line for line in block.splitlines() if line and not line.startswith("#")] for block in blocks]


def test_ci_runs_exactly_the_readme_test_command():
    contributing = next(block for block in readme_blocks() if any("pytest" in line for line in block))
    test = next(line for line in contributing if "pytest" in line)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines
    assert 'pip install --quiet -e ".[dev]"' in "\n".join(ci_lines)
    assert 'pip install -e ".[dev]"' in contributing


def test_the_users_install_takes_torchs_cpu_build_first_and_no_dev_extras():
    (install,) = readme_blocks()[0]
    steps = [step.strip() for step in install.split("&&")]
    torch = steps.index("pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu")
    assert steps[torch + 1:] == ["pip install -e ."]
    assert "[dev]" not in install


def test_the_readme_fits_on_a_screen_or_two():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 100


def test_every_relative_link_in_the_readme_and_the_docs_points_to_a_file():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            path = target.split("#")[0]
            if path and not re.match(r"[a-z]+:", path) and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_no_docstring_points_to_a_folder_a_clone_does_not_have():
    mentions = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "hebbbench").rglob("*.py"))
                if "shared/reference" in path.read_text()]
    assert mentions == []
