"""Scheduling the book's parts: what a part costs, the costliest first, parts too long for one
worker halved, and the page-number documents cut to the pages that show a number."""

from __future__ import annotations

from pathlib import Path

from kexue_anthology.formats.pdf import parts as pdf_parts
from kexue_anthology.formats.pdf.emitter import _NumberPages, number_ranges

from tests.test_pdf_parts import post


def test_formulas_and_length_make_a_part_cost_more_and_the_costliest_goes_first():
    short, long_, drawn = (pdf_parts.cost(t) for t in ("<p>短</p>", "<p>" + "长" * 5000 + "</p>",
                                                         "<p>短</p>" + '<img src="a.svg">' * 5))
    assert short < drawn and short < long_
    assert pdf_parts.longest_first([short, long_, drawn, long_]) == [1, 3, 2, 0]     # ties in the book's order
    assert not pdf_parts.too_long(long_) and pdf_parts.too_long(pdf_parts.SPLIT_COST + 1)


def test_halves_keep_the_posts_in_order_and_the_part_page_with_the_first():
    posts = [post(n, "级数") for n in range(5)]
    part = pdf_parts.Part("part-1-x", sections=[pdf_parts.Section(1, "级数", posts, True, 5)])
    first, second = pdf_parts.halves(part)
    assert [p.id for p in first.posts + second.posts] == [p.id for p in part.posts]
    assert len(first.posts) == len(part.posts) // 2
    assert first.starts_right == part.starts_right and not second.starts_right
    assert second.nested                                   # its bookmarks go under the series' part page
    assert first.name != second.name != part.name
    one = pdf_parts.Part("part-1-y", sections=[pdf_parts.Section(1, None, posts[:1], False, 1)])
    assert pdf_parts.halves(one) == [one]


def test_page_numbers_only_for_the_numbered_pages_in_blocks_that_stay_cached():
    assert number_ranges(3, 250, 100) == [(3, 100), (101, 200), (201, 250)]
    assert number_ranges(101, 150, 100) == [(101, 150)]
    assert number_ranges(5, 4, 100) == []
    pages = _NumberPages([(low, high, pdf_parts.Job(f"n{low}", Path("x.html"), Path("x.pdf"), "k", ""))
                          for low, high in number_ranges(4, 120, 100)])
    assert pages.missing(4, 120) == []
    assert pages.missing(2, 125) == [(2, 3), (121, 125)]   # a shorter front matter, a longer book
