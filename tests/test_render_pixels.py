"""Drawn formulas as pixels: each SVG through WeasyPrint (as an <img>, the way the PDF uses it)
and pdftoppm to PNG, compared with the reference images in tests/data/render with a tolerance.
`make update-golden` rewrites the references from the current drawings."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from kexue_anthology.formulas.mathhtml import MathHTML
from PIL import Image, ImageChops

from tests.conftest import DATA
from tests.test_render import rendered, write_post

pytestmark = [pytest.mark.engine, pytest.mark.weasyprint]

REFERENCES = DATA / "render"
FORMULAS = {   # name: (TeX as written in a post, display)
    "inline-cjk": (r"$\frac{1}{2}\sum_{n=1}^{\infty}\frac{x^n}{n!}\ \text{收敛}$", False),
    "align-tagged": ("\\begin{align}\n\\mathcal{L} &= -\\log p(x)\\label{eq:l}\\\\\n"
                     "&\\geq \\mathbb{E}_{q}\\left[\\log\\frac{p(x,z)}{q(z)}\\right]\\end{align}", True),
    "matrix-arrow": (r"$$\begin{pmatrix}a & b\\ c & d\end{pmatrix}\xrightarrow{\ f\ }\boldsymbol{x}\in\mathbb{R}^n$$", True),
    "eqref-inside": (r"$y=\eqref{eq:l}+\sqrt{\alpha_i^2}$", False),
}
MAX_DIFFERENT = 0.004         # share of pixels allowed to differ by more than a grey level of 64


@pytest.fixture(scope="module")
def drawings(tmp_path_factory):
    if not shutil.which("pdftoppm"):
        pytest.skip("needs pdftoppm (Debian: poppler-utils)")
    import weasyprint
    work = tmp_path_factory.mktemp("pixels")
    post = write_post(work, "p.md", "\n\n".join(tex for tex, _ in FORMULAS.values()), post_id="px")
    run = rendered(post)
    images = {}
    for n, name in enumerate(FORMULAS):
        svg = work / f"{name}.svg"
        svg.write_text(run.renders[("px", n)].svg, encoding="utf-8")
        img = MathHTML(mode="img", image=lambda r, name=svg.name: name)._drawing(run.renders[("px", n)], False)
        page = (f'<html><head><style>@page {{ size: 90mm 30mm; margin: 3mm }} body {{ font-size: 14pt; '
                f'margin: 0 }}</style></head><body>{img}</body></html>')
        pdf = work / f"{name}.pdf"
        weasyprint.HTML(string=page, base_url=str(work) + "/").write_pdf(pdf)
        subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-singlefile", str(pdf), str(work / name)],
                       check=True, capture_output=True)
        images[name] = work / f"{name}.png"
    return images


@pytest.mark.parametrize("name", list(FORMULAS))
def test_drawing_matches_its_reference(name, drawings, update_golden):
    reference = REFERENCES / f"{name}.png"
    got = Image.open(drawings[name]).convert("L")
    ink = sum(got.histogram()[:128])
    assert ink > 200, "the formula was drawn blank"                 # also before it becomes a reference
    if update_golden:
        REFERENCES.mkdir(parents=True, exist_ok=True)
        shutil.copy(drawings[name], reference)
        pytest.skip(f"rewrote {reference}: look at it")
    assert reference.exists(), f"no reference image {reference}: run `make update-golden`"
    want = Image.open(reference).convert("L")
    assert got.size == want.size
    diff = ImageChops.difference(got, want)
    different = sum(diff.histogram()[65:]) / (got.size[0] * got.size[1])
    assert different <= MAX_DIFFERENT, (f"{name}: {different:.2%} of the pixels differ from {reference} "
                                        f"(allowed {MAX_DIFFERENT:.2%}); look at {drawings[name]}")
