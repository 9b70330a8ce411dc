"""Formulas drawn and shown: the drawings of the MathJax engine (kexue_anthology.engine) made ours,
MathML Core, safe markup, formulas as HTML and as text.
"""
