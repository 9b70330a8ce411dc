"""MathJax 2.7.9, the engine the blog's readers run, as a long-lived Node worker.

`worker.js` (with `blog-ext.js`) is the Node side; `client.py` starts it, feeds it formulas
in a stream and enforces a time limit per formula; `options.py` says how validate and render
use it; `results.py` types its verdicts (tags, references); kexue_anthology.formulas.drawing
makes its drawings ours.  `package-lock.json` pins the npm packages:
a checkout's `node_modules/` here (`make setup`), else installed on first use into the cache
folder (`client.node_modules`), outside the package.
"""
