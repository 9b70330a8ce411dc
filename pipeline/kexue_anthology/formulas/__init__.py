"""Formulas drawn and shown: the MathJax engine, drawings made ours, MathML Core, safe markup, formulas
as HTML and as text.
"""
