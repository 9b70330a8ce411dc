// kexue-anthology's MathJax worker: MathJax 2.7.9 (through mathjax-node) configured as on
// kexue.fm: AMSmath, AMSsymbols, extpfeil, noUndefined, the TeX jax's own autoloads, AMS equation
// numbers with label ids.  TeX errors and undefined macros are failures (no noErrors; noUndefined
// only so that numbering goes on as on the page, see blog-ext.js).
//
// stdin:  JSON lines, handled in order:
//   {"id": n, "post": str, "tex": str, "display": bool, "quiet": bool?, "render": bool?}
//       formulas with the same "post" sent one after another share state as on one page
//       (macros, \require'd extensions, equation numbers, labels); a new post resets it.
//       "quiet": parse for its effect on the state only, print nothing (used to replay a
//       post after a restart, and to build a page's state before the formulas to render).
//       "render": also return the formula drawn, see below.
//   {"reset": true}
//   {"id": x, "names": true}: answered {"id": x, "names": {"macros": [str], "environments": [str]}},
//       the control sequences (without their backslash) and environments a post starts with.
// stdout: one JSON line per formula that is not quiet, in input order:
//   {"id": n, "ok": bool, "error": str|null,
//    "tags": [{"tag", "star", "label", "id"}], "refs": [{"label", "eqref"}], "undefined": [str],
//    "render": {"svg", "mml", "rows"}?}
//   A render is MathJax's SVG (glyphs in the SVG's own <defs>) and MathML of the formula.  The
//   SVG is drawn without equation tags (MathJax draws them as nested SVGs that WeasyPrint
//   leaves blank; the caller lays numbers out), the MathML keeps them as mlabeledtr; "rows"
//   gives each tag's baseline height in MathJax's tagged layout, in SVG units (1000/em)
//   above that layout's baseline, and "box" that layout's viewBox [min-y, height].
//   and once at start-up {"ready": true, "engine": "...", "config": "..."}.
// The environment variable ANTHOLOGY_WORKER_FAULTS=1 turns on two fault-injection macros
// for the test suite: a formula containing \anthologyTestHang never returns and one
// containing \anthologyTestCrash kills the process; with ANTHOLOGY_WORKER_SLOW_ONCE=FILE
// too, \anthologyTestSlowOnce hangs while FILE does not exist and creates it (a formula
// that is slow the first time only: a busy machine).
'use strict';
const fs = require('fs');
const url = require('url');
const readline = require('readline');
const mjAPI = require('mathjax-node');

const FAULTS = process.env.ANTHOLOGY_WORKER_FAULTS === '1';
const ENGINE = 'mathjax-node ' + require('mathjax-node/package.json').version +
  ' / MathJax ' + require('mathjax/package.json').version;
const CONFIG = {
  extensions: 'TeX/extpfeil,TeX/noUndefined,[anthology]/blog-ext',
  MathJax: { TeX: { equationNumbers: { autoNumber: 'AMS', useLabelIds: true } } },
};
const CONFIG_TEXT = JSON.stringify(CONFIG);   // before mathjax-node adds its own defaults to it

mjAPI.config(Object.assign({
  displayErrors: false,
  paths: { anthology: url.pathToFileURL(__dirname).href },
}, CONFIG));
mjAPI.start();

const EM = 6 / 0.430554;     // px per em at mathjax-node's ex = 6, MathJax's x-height

function typeset(tex, display, state, output) {
  return new Promise((resolve) => {
    const opts = Object.assign({
      math: tex, format: display ? 'TeX' : 'inline-TeX',
      equationNumbers: 'AMS', speakText: false, mml: false, svg: false,
      useFontCache: true, useGlobalCache: false,
      cjkCharWidth: EM,          // a CJK character is one em wide (mathjax-node guesses 13 px)
      timeout: 60 * 60 * 1000,   // the Python client owns time limits
    }, output || {});
    if (state) opts.state = state;
    mjAPI.typeset(opts, resolve);
  });
}

const JOURNAL = Symbol.for('kexue-anthology.journal');
function drain(state) {
  const labels = state && state.AMS && state.AMS.labels;
  const j = labels && labels[JOURNAL];
  if (!j) return { tags: [], refs: [], undef: [], names: null };
  const out = { tags: j.tags, refs: j.refs, undef: j.undef, names: j.names || null };
  j.tags = []; j.refs = []; j.undef = [];
  return out;
}

let currentPost;
let postState = null;
let requiredExtension = false;

async function reset() {
  if (requiredExtension) { mjAPI.start(); requiredExtension = false; }  // \require cannot be undone
  await typeset('\\anthologyReset', false, null);
  currentPost = undefined;
  postState = null;
}

function plain(v) { return v == null ? null : String(v); }

async function handle(item) {
  if (item.reset) { await reset(); return; }
  if (item.names) {
    await reset();
    const state = {};
    await typeset('\\anthologyNames', false, state);
    process.stdout.write(JSON.stringify({ id: item.id, names: drain(state).names }) + '\n');
    return;
  }
  const post = item.post == null ? null : String(item.post);
  if (post === null || post !== currentPost) {
    await reset();
    postState = {};
    currentPost = post === null ? undefined : post;
  }
  let tex = String(item.tex);
  if (FAULTS && tex.includes('\\anthologyTestHang')) { for (;;) { /* hang */ } }
  if (FAULTS && tex.includes('\\anthologyTestCrash')) { process.exit(3); }
  if (FAULTS && tex.includes('\\anthologyTestSlowOnce') && process.env.ANTHOLOGY_WORKER_SLOW_ONCE) {
    const marker = process.env.ANTHOLOGY_WORKER_SLOW_ONCE;
    if (!fs.existsSync(marker)) { fs.writeFileSync(marker, 'slow'); for (;;) { /* hang */ } }
    tex = tex.split('\\anthologyTestSlowOnce').join('');
  }
  if (tex.includes('\\require')) requiredExtension = true;
  const res = await typeset(tex, !!item.display, postState,
    item.render && !item.quiet ? { svg: true, mml: true } : null);
  const journal = drain(postState);
  // As without noUndefined: the first undefined macro is the error, unless a TeX error
  // stopped the parse before any was met.
  const errors = journal.undef.length
    ? 'TeX parse error: Undefined control sequence ' + journal.undef[0]
    : (res.errors && res.errors.length ? res.errors.join('; ') : null);
  if (!item.quiet) {
    process.stdout.write(JSON.stringify({
      id: item.id, ok: !errors, error: errors,
      tags: journal.tags.map((t) => ({ tag: plain(t.tag), star: !!t.star, label: plain(t.label), id: plain(t.id) })),
      refs: journal.refs.map((r) => ({ label: String(r.label), eqref: !!r.eqref })),
      undefined: journal.undef.map(String),
      render: item.render ? await drawing(tex, !!item.display, res, journal.tags.length) : undefined,
    }) + '\n');
  }
  if (post === null) { currentPost = undefined; postState = null; }
}

// A tag's group: <g id="mjx-eqn-…" transform="translate(x,y)">, no transform when both are 0.
const TAG_ROW = /<g id="mjx-eqn-[^"]*"(?: transform="translate\(\s*[-\d.e]+(?:[ ,]+([-\d.e]+))?\s*\)")?/g;

// The tagged layout gives the rows' heights; the SVG without tags is drawn again in a
// throw-away state (\anthologyNoTags: \tag is read and ignored; no automatic numbers).
async function drawing(tex, display, res, tagged) {
  const out = { svg: res.svg || '', mml: res.mml || '', rows: [] };
  if (tagged && res.svg) {
    const box = res.svg.match(/viewBox="\S+ (\S+) \S+ (\S+)"/);
    out.box = box ? [Number(box[1]), Number(box[2])] : null;
    out.rows = Array.from(res.svg.matchAll(TAG_ROW), (m) => Number(m[1] || 0));
    const plain = await typeset('\\anthologyNoTags ' + tex, display, {}, { svg: true, equationNumbers: 'none' });
    out.svg = plain.svg || '';
  }
  return out;
}

let pending = typeset('x', false, null).then(() => {
  process.stdout.write(JSON.stringify({ ready: true, engine: ENGINE, config: CONFIG_TEXT }) + '\n');
});
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let item;
  try { item = JSON.parse(line); } catch (e) {
    process.stderr.write('worker: bad input line: ' + line.slice(0, 200) + '\n');
    return;
  }
  pending = pending.then(() => handle(item)).catch((e) => {
    process.stdout.write(JSON.stringify({ id: item.id, ok: false, error: 'worker: ' + e, tags: [], refs: [] }) + '\n');
  });
});
rl.on('close', () => { pending.then(() => process.stdout.write('', () => process.exit(0))); });
