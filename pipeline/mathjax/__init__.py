"""MathJax 2.7.9, the engine the blog's readers run, as a long-lived Node worker.

`worker.js` (with `blog-ext.js`) is the Node side; `client.py` starts it, feeds it formulas
in a stream and enforces a time limit per formula.  `package-lock.json` pins the npm packages,
installed into `node_modules/` here by `make setup`.
"""
