"""The lifecycle notebooks in a real JupyterLab, driven by clicking in Chromium: Run All with the notebooks' own
defaults (small row limits through injected parameters; interactive ones with ``interactive = True``), no error
output in any cell, widgets rendered (not "Error displaying widget", not a raw ``HBox(...)``), the playground's
Run with two models gives two rows, the review widget's labels are saved, and the known noise is gone. One
screenshot per notebook. Also times a newcomer's first answer: from ``jupyter lab`` start to 00_quickstart's
first answer on screen."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

SKIP = (
    None
    if (shutil.which("chromium") or shutil.which("chromium-browser")) and importlib.util.find_spec("playwright")
    else "needs the Debian chromium (make browser installs it when root) and pip playwright ([dev])"
)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

# small row limits; everything else is the notebook's default
PARAMS = {
    "00_quickstart": {"rows": 3, "max_tokens": 16},
    "01_explore": {"interactive": True, "max_tokens": 16},
    "02_rag": {"max_rows": 3, "max_tokens": 16},
    "03_finetune": {"steps": 2, "eval_rows": 3, "max_tokens": 16},
    "04_compare": {"max_rows": 3, "redteam_rows": 2, "max_tokens": 16},
    "05_evaluate": {"max_rows": 3, "max_tokens": 16},
    "06_monitor": {"demo_requests": 3, "sample": 2, "max_tokens": 16},
    "07_conversations": {},  # its defaults (issue 31): two conversations, two candidates
}
NOISE = (
    "Creating initial MLflow database tables",
    "interpreted in multiple ways",
    "No artists with labels",
    "without encryption",
    "Traceback",
)
RUN_TIMEOUT_S = 300


@pytest.fixture(autouse=True)
def shut_down_kernels(lab):
    """After each test, shut its kernels down through the server's REST API (their own runs end at exit)."""
    yield
    import urllib.request

    def call(method, path):
        req = urllib.request.Request(f"{lab.url}{path}?token={lab.token}", method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    for session in json.loads(call("GET", "/api/sessions")):
        call("DELETE", f"/api/sessions/{session['id']}")


def prepare(lab, name: str, params: dict, nb: nbformat.NotebookNode | None = None) -> str:
    """Write the notebook with its parameters injected (papermill's way) into the lab project; its lab path."""
    path = lab.root / "notebooks" / f"{name}.ipynb"
    nb = nb or load_notebook_node(str(path))
    nbformat.write(parameterize_notebook(nb, params) if params else nb, path)
    return f"notebooks/{name}.ipynb"


def open_notebook(browser, lab, rel: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    # a workspace of its own (reset): only this notebook open, so every selector below means this notebook
    page.goto(f"{lab.url}/lab/workspaces/{Path(rel).stem}/tree/{rel}?reset&token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    wait_kernel_idle(page)
    return page


def wait_kernel_idle(page) -> None:
    """The notebook's kernel connected and idle (the status bar says so); a kernel dialog is answered."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog button:has-text('Select')")
        if dialog.count():
            dialog.first.click()
        if page.locator(".jp-StatusBar-TextItem:has-text('| Idle')").count():
            return
        time.sleep(0.3)
    raise AssertionError("the notebook's kernel did not become idle in 120 s")


def run_all(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells").first.click()


def wait_done(page, shot: Path, timeout_s: float = RUN_TIMEOUT_S) -> None:
    """Every code cell executed ([n], no [*] left), bounded; a screenshot of the page when it is not."""
    try:
        _wait_done(page, timeout_s)
    except Exception:
        page.screenshot(path=str(shot))
        raise


def _wait_done(page, timeout_s: float) -> None:
    page.wait_for_function(
        "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);"
        " if (p.length === 0 || p.some(t => t.includes('*'))) return false;"
        " return p.every(t => /\\[\\d+\\]/.test(t))"  # all ran, or Run All stopped at an error
        "   || document.querySelector('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]'); }",
        timeout=timeout_s * 1000,
        polling=500,
    )


def saved_outputs(page, lab, rel: str) -> list[dict]:
    """Save the notebook from the UI and read every output back from the file."""
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    path = lab.root / rel
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            cells = json.loads(path.read_text())["cells"]
        except json.JSONDecodeError:  # read while JupyterLab was writing it
            cells = []
        outs = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
        if outs:
            return outs
        time.sleep(0.5)
    return []


def check_clean(page, outs: list[dict], name: str) -> None:
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outs if o["output_type"] == "error"]
    assert not errors, f"{name}: error output {errors}"
    stderr = "".join("".join(o.get("text", "")) for o in outs if o.get("name") == "stderr")  # str or lines
    assert not [n for n in NOISE if n in stderr], f"{name}: noise under the cells: {stderr[:2000]}"
    text = page.locator(".jp-OutputArea").all_inner_texts()
    joined = "\n".join(text)
    assert "Error displaying widget" not in joined and "HBox(" not in joined and "VBox(" not in joined, joined[:2000]


def test_00_quickstart_first_answer_and_run_all(browser, lab, shots, record_property):
    rel = prepare(lab, "00_quickstart", PARAMS["00_quickstart"])
    page = open_notebook(browser, lab, rel)
    run_all(page)
    page.wait_for_selector(".jp-OutputArea-output:has-text('completion tokens, latency')", timeout=RUN_TIMEOUT_S * 1000)
    first_answer_s = time.monotonic() - lab.t0
    record_property("first_answer_s", round(first_answer_s, 1))
    print(f"\ntime to first answer from `jupyter lab` start: {first_answer_s:.1f}s")
    wait_done(page, shots / "not_done.png")
    outs = saved_outputs(page, lab, rel)
    check_clean(page, outs, "00_quickstart")
    page.screenshot(path=str(shots / "lab_00_quickstart.png"))
    page.close()


def test_01_explore_playground_runs_two_models(browser, lab, shots):
    rel = prepare(lab, "01_explore", PARAMS["01_explore"])
    page = open_notebook(browser, lab, rel)
    run_all(page)
    wait_done(page, shots / "not_done.png")
    check_clean(page, saved_outputs(page, lab, rel), "01_explore")
    pg = page.locator(".wb-playground")
    pg.wait_for(state="visible")
    pg.locator("select").select_option(["local:smollm2", "mirror:smollm2"])
    pg.get_by_role("button", name="Run", exact=True).click()
    # done, or the widget's own error line (a failed call) — say which instead of waiting out the timeout
    pg.locator(".wb-status:has-text('done'), .wb-error").first.wait_for(timeout=RUN_TIMEOUT_S * 1000)
    assert pg.locator(".wb-error").count() == 0, pg.locator(".wb-error").first.inner_text()
    rows = pg.locator("table.wb-playground-results tbody tr")
    assert rows.count() == 2, pg.inner_text()
    assert {rows.nth(i).locator("td").first.inner_text() for i in range(2)} == {"local:smollm2", "mirror:smollm2"}
    pg.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "lab_01_playground.png"))
    page.close()


@pytest.mark.parametrize(
    "name", ["02_rag", "03_finetune", "04_compare", "05_evaluate", "06_monitor", "07_conversations"]
)
def test_lifecycle_notebook_runs_all_clean(browser, lab, shots, name):
    if name == "03_finetune" and importlib.util.find_spec("torch") is None:
        pytest.skip("03_finetune needs the [finetune] extra (torch)")
    rel = prepare(lab, name, PARAMS[name])
    page = open_notebook(browser, lab, rel)
    run_all(page)
    wait_done(page, shots / "not_done.png")
    check_clean(page, saved_outputs(page, lab, rel), name)
    page.screenshot(path=str(shots / f"lab_{name}.png"))
    page.close()


REVIEW = [
    "import workbench as wb\nfrom workbench.candidates import PromptCandidate\n"
    "from workbench.widgets.review import Review\n"
    "ds = wb.load_dataset(wb.load_dataset('../datasets/contoso/qa.jsonl').df.head(3), name='three')",
    "result = wb.evaluate(ds, [PromptCandidate('local', name='base', max_tokens=16),\n"
    "                          PromptCandidate('local', name='terse', max_tokens=16,\n"
    "                                          system_prompt='Answer in five words.')])\n"
    "result.summary().head(3)",
    "Review(result, candidate_a='base', candidate_b='terse', labels_path='review_labels.jsonl')",
]


def test_review_widget_labels_two_rows_by_clicking(browser, lab, shots):
    """Two candidates' answers side by side with their diff; two rows labelled by clicking are saved."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src) for src in REVIEW],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    rel = prepare(lab, "scratch_review", {}, nb)
    page = open_notebook(browser, lab, rel)
    run_all(page)
    wait_done(page, shots / "not_done.png")
    check_clean(page, saved_outputs(page, lab, rel), "scratch_review")
    rv = page.locator(".wb-review")
    rv.wait_for(state="visible")
    assert rv.locator("table.wb-review-row").count() == 1
    rv.get_by_role("button", name="good", exact=True).click()
    rv.locator(".widget-html:has-text('1 label(s) saved')").wait_for()
    rv.get_by_role("button", name="bad", exact=True).click()
    rv.locator(".widget-html:has-text('2 label(s) saved')").wait_for()
    saved = [json.loads(line) for line in (lab.root / "notebooks" / "review_labels.jsonl").read_text().splitlines()]
    assert [s["label"] for s in saved] == ["good", "bad"] and len({s["id"] for s in saved}) == 2
    page.screenshot(path=str(shots / "lab_review.png"))
    page.close()
