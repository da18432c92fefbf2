"""Render job-summary Markdown the way GitHub shows it: cmark-gfm to HTML, then Mermaid in headless Chromium.

Every case goes into one page (a Chromium start and a Mermaid render cost seconds), each diagram is
checked with `mermaid.parse()` (which rejects a broken diagram) and rendered; the page writes what it
found (errors, node labels, classes, positions, injected elements) into a JSON block read back from the
dumped DOM.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cmarkgfm
from cmarkgfm.cmark import Options

REPO = Path(__file__).resolve().parent.parent
MERMAID_JS = REPO / "testing" / "browser" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
ARTIFACTS = Path(os.environ.get("NF_TEST_ARTIFACTS", REPO / "test-artifacts"))


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if chromium() is None:
        return "Chromium is not installed (apt-get install chromium)"
    if not MERMAID_JS.is_file():
        return "mermaid is not installed (npm ci --prefix testing/browser)"
    return None


def markdown_to_html(markdown: str) -> str:
    # UNSAFE keeps raw HTML, as GitHub does before its sanitiser: the summary must be inert without one.
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))


_SCRIPT = """
async function renderAll() {
  const results = [];
  mermaid.initialize({startOnLoad: false, securityLevel: "strict", maxTextSize: 50000});
  const blocks = [...document.querySelectorAll('pre[lang="mermaid"] > code')];
  for (const [index, code] of blocks.entries()) {
    const section = code.closest("section");
    const result = {case: section ? section.id : "", parsed: false, error: "", nodes: [], clusters: []};
    const text = code.textContent;
    try {
      await mermaid.parse(text);
      result.parsed = true;
      const {svg} = await mermaid.render("diagram" + index, text);
      const box = document.createElement("div");
      box.className = "diagram";
      box.innerHTML = svg;
      code.parentElement.replaceWith(box);
      for (const node of box.querySelectorAll("g.node")) {
        const r = node.getBoundingClientRect();
        const shape = node.querySelector("rect, circle, polygon, path");
        result.nodes.push({
          id: node.id, classes: node.getAttribute("class") || "", label: node.textContent,
          x: r.x + r.width / 2, y: r.y + r.height / 2,
          fill: shape ? getComputedStyle(shape).fill : "",
        });
      }
      for (const cluster of box.querySelectorAll("g.cluster")) {
        result.clusters.push({id: cluster.id, label: cluster.textContent});
      }
    } catch (error) {
      result.error = String((error && error.message) || error);
    }
    results.push(result);
  }
  const found = {
    scripts: document.querySelectorAll("script").length,
    images: document.querySelectorAll("img").length,
    handlers: [...document.querySelectorAll("*")].filter(
      (element) => [...element.attributes].some((attribute) => attribute.name.startsWith("on"))).length,
    links: [...document.querySelectorAll("a")].map((a) => a.getAttribute("href") || a.getAttribute("xlink:href")),
    cells: Object.fromEntries([...document.querySelectorAll("section")].map((section) => [section.id,
      [...section.querySelectorAll("tbody tr")].map((row) => [...row.cells].map((cell) => cell.textContent))])),
    quotes: Object.fromEntries([...document.querySelectorAll("section")].map((section) => [section.id,
      [...section.querySelectorAll("blockquote")].map((quote) => quote.textContent)])),
  };
  const out = document.createElement("pre");
  out.id = "results";
  out.textContent = JSON.stringify({results, found});
  document.body.appendChild(out);
}
window.addEventListener("load", () => { renderAll().catch((error) => {
  const out = document.createElement("pre");
  out.id = "results";
  out.textContent = JSON.stringify({fatal: String(error)});
  document.body.appendChild(out);
}); });
"""


@dataclass
class Page:
    path: Path
    cases: dict[str, str]  # case name -> Markdown


def write_page(cases: dict[str, str], path: Path, headings: bool = True) -> Page:
    sections = "\n".join(
        f'<section id="{html.escape(name)}">'
        + (f"<h2>{html.escape(name)}</h2>" if headings else "")
        + f"\n{markdown_to_html(markdown)}</section>"
        for name, markdown in cases.items()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Job summaries</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:16px;background:#fff}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #d0d7de;padding:3px 6px}"
        "td:not(:last-child){white-space:nowrap}section{margin-bottom:40px}#results{display:none}</style>"
        f'<script src="{MERMAID_JS.as_uri()}"></script>'
        f"<script>{_SCRIPT}</script></head><body>\n{sections}\n</body></html>\n",
        encoding="utf-8",
    )
    return Page(path, cases)


def _chromium(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    browser = chromium()
    assert browser is not None
    with tempfile.TemporaryDirectory(prefix="nf-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            # Virtual time runs ahead only while the page is idle, so a generous budget costs nothing.
            "--virtual-time-budget=60000",
            *args,
        ]
        if os.geteuid() == 0:
            command.insert(2, "--no-sandbox")  # Chromium refuses to start its sandbox as root
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def render(page: Page) -> dict[str, Any]:
    """Load the page in Chromium, let Mermaid render every diagram, and return what the page reported."""
    done = _chromium(["--dump-dom", page.path.as_uri()])
    start = done.stdout.find('<pre id="results">')
    if start < 0:
        raise AssertionError(f"the page reported nothing; chromium said: {done.stderr[-2000:]}")
    end = done.stdout.index("</pre>", start)
    text = html.unescape(done.stdout[start + len('<pre id="results">') : end])
    report: dict[str, Any] = json.loads(text)
    return report


def screenshot(page: Page, target: Path, width: int = 1100, height: int = 900) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    _chromium([f"--screenshot={target}", f"--window-size={width},{height}", "--hide-scrollbars", page.path.as_uri()])
    if not target.is_file():
        raise AssertionError(f"Chromium wrote no screenshot to {target}")
    return target
