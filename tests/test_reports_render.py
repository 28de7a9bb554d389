"""Every report, as a reader gets it: `all --quick` once, then each page is checked:
it opens with an answer, every embedded image decodes, nothing is loaded from
outside, and headless Chromium renders the top of the page (when installed)."""
import base64
import io
import re
import shutil
import subprocess

import pytest
from PIL import Image

from pystan_models import EXAMPLES, collection

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def reports(tmp_path_factory, cmdstan_home):
    out = tmp_path_factory.mktemp("reports")
    collection.run_all(list(EXAMPLES), out, quick=True, seed=11)
    return out


@pytest.mark.slow
def test_index_links_every_example(reports):
    html = (reports / "index.html").read_text()
    for name in EXAMPLES:
        assert f'<a href="{name}.html">{name}</a>' in html, f"{name} missing or errored"
    assert ">error<" not in html


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_report_reads_and_renders(reports, name, tmp_path):
    path = reports / f"{name}.html"
    html = path.read_text()
    answer = re.search(r'<div class="answer">(.*?)</div>', html, re.S)
    assert answer and len(answer.group(1)) > 100, "opens with a paragraph answer"
    assert re.search(r"\d", answer.group(1)), "the answer is computed from numbers"
    assert ">Provenance</h2>" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert images, "has figures"
    for data in images:
        img = Image.open(io.BytesIO(base64.b64decode(data)))
        img.verify()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html), "self-contained"
    if CHROMIUM is None:
        pytest.skip("chromium not installed: rendering not checked")
    shot = tmp_path / f"{name}.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600",
                    f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    top = Image.open(shot).convert("L")
    assert top.size == (1200, 1600)
    lo, hi = top.getextrema()
    assert hi - lo > 100, "the page rendered text and figures, not a blank screen"


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_report_has_predictive_checks(reports, name):
    html = (reports / f"{name}.html").read_text()
    section = html[html.index(">Predictive checks</h2>"):]
    section = section[:section.find("<h2")]
    assert section.count("data:image/png") >= 2, "a check and a LOO-PIT figure"
    assert "What to look for:" in section and "LOO-PIT values should be uniform" in section
