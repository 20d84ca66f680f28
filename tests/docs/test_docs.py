"""The docs site: built strictly with mkdocs (a broken link or a page left out
of the nav fails), each page rendered in headless Chromium, the README short
and its links alive, module docstrings pointing at pages that exist."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, chromium

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

MKDOCS = [
    sys.executable,
    "-m",
    "mkdocs",
    "build",
    "--strict",
]  # not --quiet: it hides the warnings strict counts


def _build(config: Path, site: Path):
    return subprocess.run(
        MKDOCS + ["--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = _build(ROOT / "mkdocs.yml", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_the_site_builds_strictly_with_every_page(site):
    pages = sorted(p.stem for p in DOCS.glob("*.md"))
    built = sorted(p.parent.name if p.parent != site else "index" for p in site.rglob("index.html"))
    assert [p for p in pages if p not in built and p != "index"] == []
    assert (site / "configuration-reference" / "index.html").is_file()


def test_a_broken_link_fails_the_build(tmp_path):
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    page = tmp_path / "docs" / "canary.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    proc = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode != 0 and "no-such-page.md" in proc.stdout + proc.stderr


def test_the_readme_is_a_door_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert "make demo" in text and "make test" in text
    links = [m for m in re.findall(r"\]\(([^)#]+)\)", text) if not m.startswith("http")]
    assert links and [m for m in links if not (ROOT / m).exists()] == []
    assert {f"docs/{p.name}" for p in DOCS.glob("*.md")} - {"docs/index.md"} <= set(links)


# modules a newcomer opens first, each pointing at its page
POINTERS = {
    "pipelines/pipeline.py": "docs/pipeline.md",
    "components/gate/decision.py": "docs/drift-and-gate.md",
    "components/canary/component.py": "docs/canary.md",
    "serving/release.py": "docs/canary.md",
    "serving/repair.py": "docs/operations.md",
    "pipelines/kubeflow_runner.py": "docs/kubeflow.md",
    "components/monitor/component.py": "docs/monitoring.md",
    "backtest/__init__.py": "docs/backtest.md",
    "driftgate/core/config.py": "docs/configuration-reference.md",
    "driftgate/core/lease.py": "docs/operations.md",
    "pipelines/schema_store.py": "docs/schemas.md",
}


def test_module_docstrings_point_at_pages_that_exist():
    import ast

    for module, page in POINTERS.items():
        doc = ast.get_docstring(ast.parse((ROOT / module).read_text())) or ""
        assert page in doc, f"{module}: its docstring should point at {page}"
    named = set()
    for top in ("driftgate", "trainer", "serving", "components", "pipelines", "backtest"):
        for path in (ROOT / top).rglob("*.py"):
            named |= set(re.findall(r"docs/[a-z-]+\.md", path.read_text()))
    assert sorted(p for p in named if not (ROOT / p).is_file()) == []


def _chromium(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return chromium(url, tmp_path / "profile", *extra)


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (scripts/ensure_debian_packages.sh)"
)
def test_every_page_renders_in_headless_chromium(site, tmp_path):
    for html in sorted(site.rglob("index.html")):
        if html.parent.name in ("search", "404"):
            continue
        source = DOCS / ("index.md" if html.parent == site else f"{html.parent.name}.md")
        if not source.is_file():
            continue
        title = re.search(r"^# (.+)$", source.read_text(), re.M).group(1)
        dom = _chromium(html.as_uri(), tmp_path, "--dump-dom").stdout
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", dom, re.S)
        assert heading and re.sub(r"<[^>]+>", "", heading.group(1)).strip() == title, html


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (scripts/ensure_debian_packages.sh)"
)
def test_the_readme_and_a_page_render_to_a_screenshot(site, tmp_path):
    import markdown
    from PIL import Image, ImageStat

    readme = tmp_path / "README.html"
    body = markdown.markdown((ROOT / "README.md").read_text(), extensions=["tables", "fenced_code"])
    readme.write_text(f"<!doctype html><meta charset=utf-8><title>driftgate</title>{body}")
    for name, url in (("readme", readme.as_uri()), ("kubeflow", (site / "kubeflow" / "index.html").as_uri())):
        shot = tmp_path / f"{name}.png"
        proc = _chromium(url, tmp_path, "--window-size=1200,1400", f"--screenshot={shot}")
        assert shot.is_file(), proc.stderr[-2000:]
        stat = ImageStat.Stat(Image.open(shot).convert("L"))
        assert stat.stddev[0] > 10, name  # not a blank page


def test_the_readme_folder_table_lists_every_top_level_folder():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the folders cannot be listed as a clone has them")
    folders = {line.split("/", 1)[0] for line in tracked.stdout.splitlines() if "/" in line}
    folders -= {".ci", ".github"}  # CI's own, not the user's
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Folder layout") : text.index("## Read on")]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    named = {name for cell in first_cells for name in re.findall(r"`([a-z_]+)/`", cell)}
    assert (
        named == folders
    ), f"README's folder table: add {sorted(folders - named)}, drop {sorted(named - folders)}"


SECTIONS = ["Get started", "Concepts", "Operate", "Reference"]


def _mkdocs_config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_the_nav_is_four_sections_on_materials_tabs(site):
    config = _mkdocs_config()
    assert config["theme"]["name"] == "material"
    assert {"navigation.tabs", "navigation.sections"} <= set(config["theme"]["features"])
    nav = config["nav"]
    assert [next(iter(section)) for section in nav] == SECTIONS
    pages = {title: [next(iter(p.values())) for p in section[title]] for section in nav for title in section}
    assert pages["Get started"][0] == "index.md" and "serving-health.md" in pages["Operate"]
    assert "configuration-reference.md" in pages["Reference"]
    home = (site / "index.html").read_text()
    assert re.findall(r'class="md-tabs__link"[^>]*>\s*([^<]+?)\s*<', home) == SECTIONS  # the top bar
    loaded = re.findall(
        r"<(?:script|img)[^>]+src=['\"](https?://[^'\"]+)|<link[^>]+href=['\"](https?://[^'\"]+)", home
    )
    assert loaded == []  # no font, style or script from the network (theme.font: false)


def test_the_index_is_a_door_of_its_own():
    text = (DOCS / "index.md").read_text()
    assert "README" not in text  # it does not send the reader back to the repository's README
    assert "make demo" in text and "make test" in text
    for section in SECTIONS:
        assert f"**{section}**" in text
    linked = set(re.findall(r"\]\(([a-z-]+\.md)\)", text))
    assert linked == {p.name for p in DOCS.glob("*.md")} - {"index.md"}  # a guided way to every page
    readme = (ROOT / "README.md").read_text()
    copied = [line for line in text.splitlines() if len(line) > 40 and line in readme]
    assert copied == [], copied


def test_the_kubeflow_page_sends_the_reader_to_the_artifact_nodes():
    """KFP UI 2.5-2.17 (RuntimeNodeDetailsV2.tsx, MetricsVisualizations.tsx,
    CompareV2.tsx): the Visualization tab is on an artifact node; HTML and
    Markdown cards are titled Static HTML / Static Markdown; Compare runs
    overlays only ROC curves; a bucket refusal is an error banner."""
    text = " ".join((DOCS / "kubeflow.md").read_text().split())
    assert "Open the run, then the task, then its *Visualization* tab" not in text
    assert "click the artifact node" in text and "not the task itself" in text
    assert "**Static HTML**" in text and "**Static Markdown**" in text and "*Artifact Info*" in text
    assert "overlays only the **ROC curves**" in text and "two panels side by side" in text
    assert "error banner" in text and "store_session_info" in text and "tfx_version" in text
    assert 'cards stay empty ("No matching files found")' not in text
