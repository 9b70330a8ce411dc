"""EPUB Accessibility 1.1's discovery metadata (schema.org), read off the content of the book."""

from __future__ import annotations

import json

from kexue_anthology.documents.pandoc_ast import Node, element

PLACEHOLDER = 'class="image-placeholder"'      # an image of the post, not in the book (collection.links)
FIGURE = '<figure class="figure">'              # an image of the post in the book (collection.figures)


def meta_string(value: str) -> Node:
    """A metadata value as pandoc's JSON: a literal string, never read as Markdown."""
    return element("MetaString", value)


def accessibility_metadata(content: str) -> dict[str, Node]:
    """EPUB Accessibility 1.1's discovery metadata (schema.org) for a book whose content, as
    pandoc's JSON, is `content`: MathML, drawings (SVG or <img>, each with its TeX as alt text:
    kexue_anthology.formulas.mathhtml) and placeholders for the posts' images are read off it, so that what the
    metadata says holds for this book.  The cover is no content (it says what the title page
    says) and needs no `visual` access mode."""
    mathml = "<math" in content
    drawn = "<svg" in content or json.dumps('<img class="math-img"')[1:-1] in content
    placeholders = '"image-placeholder"' in content or json.dumps(PLACEHOLDER)[1:-1] in content
    figures = json.dumps(FIGURE)[1:-1] in content or 'class=\\"inline-image\\"' in content
    modes = ["textual"] + (["visual"] if drawn or figures else []) + (["mathOnVisual"] if drawn else [])
    features = ["tableOfContents", "readingOrder", "structuralNavigation", "displayTransformability",
                "alternativeText"]
    if mathml:
        features.append("MathML")
    if mathml or drawn:
        features.append("describedMath")
    summary = ["本书为可重排的电子书：有目录、逐级的标题结构和与原文一致的阅读顺序，"
               "文字可由阅读软件调整字体与字号，朗读软件可读出全部内容。"]
    if mathml and drawn:
        summary.append("公式以 MathML 编写；含链接的公式画作 SVG 图形。每个公式都以其 TeX 源码为替代文字。")
    elif mathml:
        summary.append("公式以 MathML 编写，每个公式都以其 TeX 源码为替代文字（alttext）。")
    elif drawn:
        summary.append("公式画作 SVG 图片，每个公式都以其 TeX 源码为替代文字（alt）。")
    if figures:
        summary.append("图片附有图注，并以图注或原文的说明为替代文字。")
    if placeholders:
        summary.append(("原文的部分图片" if figures else "原文的图片") + "未收录，以其图注和地址代替。")
    summary.append("封面图片附有文字说明。没有闪烁、动画或声音。")

    def strings(values: list[str]) -> Node:
        return element("MetaList", [meta_string(v) for v in values])
    return {
        "accessModes": strings(modes),
        "accessModeSufficient": strings(["textual"] + (["textual,visual"] if drawn or figures else [])),
        "accessibilityFeatures": strings(features),
        "accessibilityHazards": strings(["none"]),
        "accessibilitySummary": meta_string("".join(summary)),
    }
