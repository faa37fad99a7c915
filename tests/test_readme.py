"""The README's quick-tour snippets run as written (in a scratch folder; the Fashion-MNIST
loader is given a 512/256-example slice of the real data so the run stays short)."""
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

import theon as th

README = Path(__file__).parents[1] / "README.md"
# Snippets inside a list item are indented with it.
SNIPPETS = [textwrap.dedent(s) for s in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)]


def test_the_readme_has_python_snippets():
    assert len(SNIPPETS) >= 2


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_quick_tour_snippet_runs_as_written(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = th.data.fashion_mnist

    def small(*args, **kwargs):
        (xtr, ytr), (xte, yte) = real(*args, **kwargs)
        return (xtr[:512], ytr[:512]), (xte[:256], yte[:256])

    monkeypatch.setattr(th.data, "fashion_mnist", small)
    np.random.seed(0)
    exec(compile(SNIPPETS[index], f"README.md snippet {index}", "exec"), {"__name__": "__readme__"})
