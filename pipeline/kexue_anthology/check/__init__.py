"""Checking: the math fragments found (extract), judged by MathJax (validate), faults located and fixes
named, equations numbered.
"""
