"""The installable package: `pip install .` (not editable) into a fresh venv, then `anthology build html`
and `anthology build pdf` of the bundled sample from a folder that has nothing to do with the checkout,
the outputs written there (templates and sample are package data, the MathJax worker's npm packages are
installed on first use outside the package); and importing the package changes nothing in the process
or on disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a source tree of the project is without this checkout's own products: the copy pip builds from,
# so that the build writes nothing into the checkout (pip builds in the source folder).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "node_modules", "out", "build", "dist", "*.egg-info",
                                    ".*cache", ".hypothesis", "__pycache__", "tests")


def _run(command, **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    output = result.stdout[-3000:] + "\n" + result.stderr[-3000:]
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{output}"
    return result



def install_copy(tmp_path: Path) -> Path:
    """A fresh venv in `tmp_path` with a copy of this source tree pip-installed into it (not
    editable; pip's own cache is used, so a second run downloads nothing): the venv's folder."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", source])
    return venv

@pytest.mark.package
@pytest.mark.engine
@pytest.mark.pandoc
@pytest.mark.weasyprint
def test_pip_install_then_build_the_sample_from_any_folder(tmp_path):
    venv = install_copy(tmp_path)
    python, anthology = venv / "bin" / "python", venv / "bin" / "anthology"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "NODE_PATH")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", ANTHOLOGY_CACHE=str(tmp_path / "cache"))

    where = _run([python, "-c", "import kexue_anthology; print(kexue_anthology.__file__)"], cwd=elsewhere,
                 env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), f"the package imported from {where}, not from the fresh venv"
    # one distinctive top-level name installed: neither the source root `pipeline` nor the tests
    site = Path(where).parent.parent
    installed = sorted(p.name for p in site.iterdir() if p.is_dir() and not p.name.endswith((".dist-info", "__pycache__"))
                       and p.name not in ("_distutils_hack", "pip", "setuptools", "pkg_resources"))
    assert "kexue_anthology" in installed and "pipeline" not in installed and "tests" not in installed, installed
    for name in ("pipeline", "tests"):
        found = _run([python, "-c", f"import importlib.util; print(importlib.util.find_spec({name!r}))"], cwd=elsewhere,
                     env=env).stdout.strip()
        assert found == "None", f"{name} is importable from the fresh venv: {found}"

    _run([anthology, "build", "html"], cwd=elsewhere, env=env)
    site = elsewhere / "out" / "site"
    assert (site / "index.html").is_file()
    assert list((site / "posts").glob("*.html")), "no post pages"
    assert "<math" in "".join(p.read_text(encoding="utf-8") for p in (site / "posts").glob("*.html"))

    _run([anthology, "build", "pdf"], cwd=elsewhere, env=env)
    books = list((elsewhere / "out").glob("*.pdf"))
    assert len(books) == 1 and books[0].read_bytes()[:5] == b"%PDF-", books

    # The worker's npm packages were installed on first use into the cache folder, not into the package.
    assert list((tmp_path / "cache" / "mathjax").glob("*/node_modules/mathjax-node/package.json"))
    assert not (Path(where).parent / "formulas" / "mathjax" / "node_modules").exists()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["out"]


IMPORT_ALL = """
import importlib, json, os, pkgutil, sys
os.umask(0o027)
before = dict(os.environ)
import kexue_anthology
names = [m.name for m in pkgutil.walk_packages(kexue_anthology.__path__, "kexue_anthology.")
         if ".node_modules" not in m.name and not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"umask": os.umask(0), "environ": dict(os.environ) == before, "modules": len(names)}))
"""


def test_importing_the_package_has_no_side_effects(tmp_path):
    """No umask, environment, folder or file changed by importing any module of the package."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHOLOGY_CACHE", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT / "pipeline"), PYTHONDONTWRITEBYTECODE="1")
    result = _run([sys.executable, "-c", IMPORT_ALL], cwd=cwd, env=env)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["umask"] == 0o027 and found["environ"] and found["modules"] > 20, found
    assert not list(cwd.iterdir())
    assert not (home / ".cache" / "kexue-anthology").exists()
