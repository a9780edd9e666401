"""The root README's Python and JavaScript snippets run, in order, on one
pond directory (the JS one reads what the Python one wrote)."""

from __future__ import annotations

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def blocks(lang: str) -> list[str]:
    with open(os.path.join(ROOT, "README.md")) as f:
        return re.findall(rf"```{lang}\n(.*?)```", f.read(), re.S)


def test_the_readme_snippets_run(tmp_path) -> None:
    (python,) = blocks("python")
    (js,) = blocks("js")
    subprocess.run([os.environ.get("PYTHON", "python"), "-c", python], cwd=tmp_path, check=True)
    # `import ... from 'logpond'` resolves to this checkout's Node package.
    (tmp_path / "node_modules").mkdir()
    os.symlink(os.path.join(ROOT, "node"), tmp_path / "node_modules" / "logpond")
    (tmp_path / "snippet.mjs").write_text(js)
    out = subprocess.run(["node", "snippet.mjs"], cwd=tmp_path, check=True, capture_output=True, text=True)
    assert "resize image 7" in out.stdout
