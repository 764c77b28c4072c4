"""Execute the teaching notebooks (``notebooks/*.py``, jupytext py:percent) as notebooks.

Each file is converted with jupytext and run cell by cell in a fresh ``python3``
kernel by nbclient, exactly as a reader would run it; any cell that raises fails the
test (the error names the cell). The notebooks check their own claims with
``assert`` cells, so a wrong result fails too. Each must finish within
``NOTEBOOK_TIME_LIMIT_S`` seconds (300 s by default, a guard against hangs rather than a speed test: their wall times are reported separately; override with the
environment variable ``CONVEX_RELU_NOTEBOOK_LIMIT_S`` on slow machines) and must
draw at least one figure.

Needs the ``test`` extra: jupytext, nbclient, nbformat, ipykernel, matplotlib (a
missing one is a collection error, not a skip).
"""

import os
import pathlib
import time

import pytest

# Deliberately not importorskip: CI must run the notebooks, so missing tools are an error
# (install the test extra: pip install -e ".[test]").
import jupytext
import nbclient
import nbformat

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
NOTEBOOK_TIME_LIMIT_S = float(os.environ.get("CONVEX_RELU_NOTEBOOK_LIMIT_S", "300"))


def test_the_three_notebooks_exist():
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_convex_reformulation", "02_fast_vs_exact", "03_gated_to_relu"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    # the kernel must use matplotlib's inline backend so that figures become outputs
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = jupytext.read(path)
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3, "a teaching notebook explains itself"
    client = nbclient.NotebookClient(
        nb,
        timeout=int(NOTEBOOK_TIME_LIMIT_S),  # per cell
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # run in a scratch directory
        allow_errors=False,
    )
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the cell's traceback) if a cell fails
    elapsed = time.perf_counter() - t0
    nbformat.write(nb, tmp_path / f"{path.stem}.ipynb")  # the executed notebook, for inspection

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    n_figures = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert n_figures >= 1, f"{path.name} drew no figure"
    assert elapsed < NOTEBOOK_TIME_LIMIT_S, f"{path.name} took {elapsed:.1f} s (limit {NOTEBOOK_TIME_LIMIT_S:.0f} s)"
