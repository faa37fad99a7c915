"""`th.printing`: the text tree and the picture of a graph or a compiled function."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import theon as th
from theon import nn, printing


def test_debugprint_shows_ops_types_lines_and_shared_subexpressions_once():
    x = th.tensor("x", (None, 3))
    W = th.shared(np.ones((3, 3), "float32"), name="W")
    e = th.exp(x @ W)                                  # used twice below
    y = (e + e * 2.0).sum(axis=1)
    line = test_debugprint_shows_ops_types_lines_and_shared_subexpressions_once.__code__.co_firstlineno
    text = printing.debugprint(y, file=False)
    assert text.splitlines() == [
        "graph:",
        f"output: sum(axes=(1,)) -> float32[?,]  test_printing.py:{line + 4}",
        f"└─ add -> float32[?, 3]  test_printing.py:{line + 4}",
        f"   ├─ exp -> float32[?, 3]  test_printing.py:{line + 3}  [id A]",
        f"   │  └─ matmul -> float32[?, 3]  test_printing.py:{line + 3}",
        "   │     ├─ x: float32[?, 3] (input)",
        "   │     └─ W: float32[3, 3] (shared)",
        f"   └─ multiply -> float32[?, 3]  test_printing.py:{line + 4}",
        f"      ├─ exp -> float32[?, 3]  test_printing.py:{line + 3}  [id A] (shown above)",
        "      └─ constant 2: float32[]",
    ]


def test_debugprint_of_a_compiled_function_shows_its_program_with_layers_and_updates(capsys):
    model = nn.Sequential([nn.Dense(4, activation="relu")], input_shape=(3,))
    x = th.tensor("x", (None, 3))
    loss = model(x).sum()
    (g,) = th.grad(loss, [model.params[0]])
    f = th.function([x], loss, updates=[(model.params[0], model.params[0] - g)])
    with pytest.raises(RuntimeError, match="call it once"):
        printing.debugprint(f)  # unknown dims: nothing compiled yet
    f(np.ones((2, 3), "float32"))
    text = printing.debugprint(f)
    assert capsys.readouterr().out == text  # printed, and returned
    assert text.startswith("compiled theon_function:\noutput 0: sum(")
    assert "[dense_1]" in text and "float32[2, 4]" in text       # layer scope; concrete shapes
    assert "update dense_1/kernel: subtract -> float32[3, 4]" in text
    assert "(gradient of relu)" in text


def test_debugprint_nests_loop_and_branch_bodies():
    xs = th.tensor("xs", (None, 2))
    final, _ = th.scan(lambda c, r: (th.tanh(c + r), c), th.zeros((2,)), xs)
    out = th.cond(final.sum() > 0, lambda a: a * 3.0, lambda a: -a, final)
    text = printing.debugprint(out, file=False)
    lines = text.splitlines()
    body = next(i for i, l in enumerate(lines) if "body scan_body:" in l)
    tanh = next(i for i, l in enumerate(lines) if "tanh ->" in l)
    assert body < tanh and lines[tanh].index("tanh") > lines[body].index("body")  # indented under
    assert any("body cond_true:" in l for l in lines) and any("body cond_false:" in l for l in lines)
    f = th.function([xs], out)
    f(np.ones((3, 2), "float32"))
    compiled = printing.debugprint(f, file=False)
    assert "body theon_function__scan_body_" in compiled and "carry0: float32[2,] (input)" in compiled


def _loop_graph():
    xs = th.tensor("xs", (None, 4))
    W = th.shared(np.eye(4, dtype="float32"), name="W")

    def step(c, r):
        h = th.tanh(c @ W + r)
        inner, _ = th.scan(lambda a, b: (a + b, a * b), h, r[None])
        return inner, h.sum()

    final, ys = th.scan(step, th.zeros((4,)), xs)
    return xs, th.cond(ys.sum() > 0, lambda a: a * 2.0, lambda a: a - 1.0, final)


def _cluster_depths(dot: str) -> list:
    """The nesting depth of each cluster in DOT text."""
    depth, depths = 0, []
    for line in dot.splitlines():
        if "subgraph cluster_" in line:
            depths.append(depth)
            depth += 1
        elif line.strip() == "}":
            depth -= 1
    return depths


def test_dot_draws_loops_and_branches_as_nested_clusters():
    xs, out = _loop_graph()
    dot = printing.to_dot(out)
    assert dot.startswith("digraph theon {") and dot.rstrip().endswith("}")
    # outer scan (0) > its body (1) > inner scan (2) > its body (3); cond (0) > two branches (1)
    assert sorted(_cluster_depths(dot)) == [0, 0, 1, 1, 1, 2, 3]
    assert 'label="body scan_body"' in dot and 'label="body cond_true"' in dot
    assert "W: float32[4, 4] (shared)" in dot and "xs: float32[?, 4] (input)" in dot


def test_plot_writes_svg_png_and_dot(tmp_path):
    xs, out = _loop_graph()
    f = th.function([xs], out)
    f(np.ones((3, 4), "float32"))
    svg = printing.plot(f, tmp_path / "step.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "body theon_function__scan_body_" in texts and "tanh" in texts
    png = printing.plot(out, tmp_path / "graph.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert printing.plot(out, tmp_path / "graph.dot").read_text() == printing.to_dot(out)
    with pytest.raises(ValueError, match="use a .svg, .png, .pdf or .dot path"):
        printing.plot(out, tmp_path / "graph.jpeg")


def test_plot_without_graphviz_names_the_packages_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(printing.shutil, "which", lambda name: None)
    x = th.tensor("x", (3,))
    with pytest.raises(printing.GraphvizMissingError) as info:
        printing.plot(th.exp(x), tmp_path / "g.svg")
    assert "apt-get install graphviz" in str(info.value) and "pip package `graphviz`" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    assert printing.plot(th.exp(x), tmp_path / "g.dot").exists()  # DOT needs no Graphviz


def test_bad_objects_are_refused():
    with pytest.raises(TypeError, match="take a Variable"):
        printing.debugprint(42)
