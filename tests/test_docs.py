"""The user guide (docs/, built with mkdocs) is true to the code: every page's Python blocks
run as written, in order, in one namespace per page (in a scratch folder); every page is
in the site's navigation, and the site builds with no warnings."""
import linecache
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import theon as th

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
NAV = re.findall(r"^\s+- [^:]+: (\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.MULTILINE)
FENCE = re.compile(r"^( *)```(\S*)\n(.*?)^\1```\s*$", flags=re.MULTILINE | re.DOTALL)


def blocks(page: str, language: str = "python") -> list:
    """The page's fenced blocks in `language`, dedented (a block in a list item is indented
    with it)."""
    if not (DOCS / page).is_file():  # a page missing from docs/ fails the navigation test
        return []
    text = (DOCS / page).read_text()
    return [textwrap.dedent(body) for _, lang, body in FENCE.findall(text) if lang == language]


def test_every_page_is_in_the_navigation():
    assert len(NAV) >= 8
    assert sorted(NAV) == sorted(p.name for p in DOCS.glob("*.md"))


@pytest.mark.parametrize("page", NAV)
def test_code_blocks_are_python_or_shown_output(page):
    """Only Python blocks hold code (and all of them run); 'text' blocks show output or a
    diagram. Shell commands are written inline, so no block goes unexecuted."""
    text = (DOCS / page).read_text()
    languages = [lang for _, lang, _ in FENCE.findall(text)]
    assert set(languages) <= {"python", "text"}, languages
    assert text.count("```") == 2 * len(languages), "an unclosed or unlabelled fence"


@pytest.mark.parametrize("page", [p for p in NAV if blocks(p)])
def test_page_code_runs_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.random.seed(0)
    th.seed(0)
    namespace = {"__name__": f"docs_{Path(page).stem.replace('-', '_')}"}
    for i, code in enumerate(blocks(page)):
        filename = f"docs/{page} block {i + 1}"
        # as for a file on disk, errors and f.source quote the user's line
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        exec(compile(code, filename, "exec"), namespace)  # noqa: S102 (running the guide is the test)


def test_the_site_builds_without_warnings(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    for page in NAV:
        built = tmp_path / "site" / ("index.html" if page == "index.md" else f"{Path(page).stem}/index.html")
        assert built.is_file(), page
    assert "th.function" in (tmp_path / "site" / "index.html").read_text()
