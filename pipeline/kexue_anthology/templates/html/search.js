/* kexue-anthology: the search page's script (search.html only; every other page is script-free).
   The index (assets/search-index.js, pipeline/emit/search.py) sets window.KX_SEARCH:
     docs:  [title, date, series, tags, url, text] per post
     terms: one string of sorted lines "\nTERM D,D,…", the posts holding TERM as differences in
            base 36; a term is a CJK character bigram (a lone CJK character is its own term) or a
            lowercased Latin word or number.
   A query is cut into runs of CJK characters and Latin words, the way the index was; each run is
   looked for as written (case-insensitively) in the posts the index says may hold it.  A CJK run
   found nowhere is cut into words (Intl.Segmenter, or bigrams without it) and those are looked for.
   Ranking: posts whose title, series or tags hold query terms first, then by how many terms they
   hold, then by how often.  Everything shown is set as text (textContent), never as markup. */
(function () {
  "use strict";
  var started = performance.now();
  var CJK_RUN = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]";
  var TERMS = new RegExp(CJK_RUN + "+|[0-9a-z\u00c0-\u024f\u0370-\u03ff]+", "g");
  var IS_CJK = new RegExp("^" + CJK_RUN);
  var MAX_TERMS = 12;
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var data = window.KX_SEARCH;
  var query = (new URLSearchParams(window.location.search).get("q") || "").trim();

  Array.prototype.forEach.call(document.querySelectorAll('input[name="q"]'), function (input) {
    input.value = query;
  });
  if (!status || !list) { return; }
  if (!data) { status.textContent = "搜索索引（assets/search-index.js）未能载入。"; return; }
  var docs = data.docs, terms = data.terms;
  var postings = {};      // term -> ascending post numbers, decoded on first use

  // The posts on the index line that starts at `at` ("\nTERM D,D,…"; differences in base 36).
  function line(at, term) {
    var start = at + term.length + 2, end = terms.indexOf("\n", start), out = [], n = 0;
    terms.slice(start, end).split(",").forEach(function (d) { n += parseInt(d, 36); out.push(n); });
    return out;
  }

  function posts(term) {
    if (!Object.prototype.hasOwnProperty.call(postings, term)) {
      var at = terms.indexOf("\n" + term + " ");
      postings[term] = at < 0 ? [] : line(at, term);
    }
    return postings[term];
  }

  function intersect(a, b) {
    var out = [], i = 0, j = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { out.push(a[i]); i++; j++; } else if (a[i] < b[j]) { i++; } else { j++; }
    }
    return out;
  }

  var allPosts = null;
  function everyPost() {
    if (!allPosts) { allPosts = []; for (var i = 0; i < docs.length; i++) { allPosts.push(i); } }
    return allPosts;
  }

  // The posts that may hold `term`: those holding all of a CJK run's bigrams; those holding a
  // Latin word the term begins (a prefix: "soft" finds "softmax"; the lines are sorted, so the
  // words it begins stand together); every post for one CJK character.
  function candidates(term) {
    if (IS_CJK.test(term)) {
      if (term.length === 1) { return everyPost(); }
      var found = posts(term.slice(0, 2));
      for (var i = 1; i + 2 <= term.length && found.length; i++) { found = intersect(found, posts(term.slice(i, i + 2))); }
      return found;
    }
    var seen = {}, out = [], key = "\n" + term, at = terms.indexOf(key);
    while (at >= 0 && terms.startsWith(key, at)) {
      var word = terms.slice(at + 1, terms.indexOf(" ", at));
      line(at, word).forEach(function (n) { if (!seen[n]) { seen[n] = true; out.push(n); } });
      at = terms.indexOf("\n", at + 1);
    }
    return out.sort(function (a, b) { return a - b; });
  }

  function pattern(term) { return new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi"); }
  function count(text, re) { re.lastIndex = 0; var m = text.match(re); return m ? m.length : 0; }

  // The CJK words of a run found nowhere as written: Intl.Segmenter's, else its bigrams;
  // single characters only when nothing longer is left.
  function words(run) {
    var out = [];
    if (window.Intl && Intl.Segmenter) {
      var segments = new Intl.Segmenter("zh", { granularity: "word" }).segment(run);
      for (var it = segments[Symbol.iterator](), s = it.next(); !s.done; s = it.next()) {
        if (s.value.isWordLike) { out.push(s.value.segment.toLowerCase()); }
      }
    } else {
      for (var i = 0; i + 2 <= run.length; i++) { out.push(run.slice(i, i + 2)); }
    }
    var long = out.filter(function (w) { return w.length > 1; });
    return unique(long.length ? long : out);
  }

  function unique(items) {
    var seen = {}, out = [];
    items.forEach(function (x) { if (x && !seen[x]) { seen[x] = true; out.push(x); } });
    return out;
  }

  // Every post holding `term`: {n, field (in title/series/tags), hits (in the text)}.
  function lookup(term) {
    var re = pattern(term), out = [];
    candidates(term).forEach(function (n) {
      var d = docs[n];
      var field = count(d[0], re) + count(d[2], re) + count(d[3].join(" "), re);
      var hits = count(d[5], re);
      if (field || hits) { out.push({ n: n, field: field, hits: hits }); }
    });
    return out;
  }

  function search(q) {
    var runs = unique((q.toLowerCase().match(TERMS) || [])).slice(0, MAX_TERMS);
    var used = [], found = [];
    runs.forEach(function (run) {
      var hits = lookup(run);
      if (!hits.length && IS_CJK.test(run) && run.length > 2) {
        words(run).forEach(function (w) { var h = lookup(w); if (h.length) { used.push(w); found.push(h); } });
      } else if (hits.length) {
        used.push(run); found.push(hits);
      }
    });
    var scores = {};
    found.forEach(function (hits) {
      hits.forEach(function (h) {
        var s = scores[h.n] || (scores[h.n] = { n: h.n, field: 0, terms: 0, hits: 0 });
        if (h.field) { s.field++; }
        s.terms++;
        s.hits += h.hits + h.field;
      });
    });
    var ranked = Object.keys(scores).map(function (k) { return scores[k]; });
    ranked.sort(function (a, b) {
      return b.field - a.field || b.terms - a.terms || b.hits - a.hits
        || (docs[b.n][1] > docs[a.n][1] ? 1 : docs[b.n][1] < docs[a.n][1] ? -1 : a.n - b.n);
    });
    return { terms: used, ranked: ranked };
  }

  // `text` into `parent` as text nodes, each match of `re` in a <mark>.
  function marked(parent, text, re) {
    var last = 0, m;
    if (re) {
      re.lastIndex = 0;
      while ((m = re.exec(text)) !== null) {
        if (!m[0].length) { re.lastIndex++; continue; }
        parent.appendChild(document.createTextNode(text.slice(last, m.index)));
        var mark = document.createElement("mark");
        mark.textContent = m[0];
        parent.appendChild(mark);
        last = m.index + m[0].length;
      }
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // Some 120 characters of the text around the first match of the query's first term found there.
  function snippet(text, res) {
    var at = -1;
    for (var i = 0; i < res.length && at < 0; i++) { res[i].lastIndex = 0; var m = res[i].exec(text); if (m) { at = m.index; } }
    if (at < 0) { return text.slice(0, 120) + (text.length > 120 ? "…" : ""); }
    var start = Math.max(0, at - 36), end = Math.min(text.length, at + 84);
    return (start > 0 ? "…" : "") + text.slice(start, end) + (end < text.length ? "…" : "");
  }

  function element(tag, className, text) {
    var e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text) { e.textContent = text; }
    return e;
  }

  function show(q) {
    if (!q) {
      status.textContent = "在上方输入词语，搜索全部 " + docs.length + " 篇文章的标题、系列和正文。";
      return 0;
    }
    var result = search(q);
    var res = result.terms.map(pattern);
    var any = res.length ? new RegExp(result.terms.slice().sort(function (a, b) { return b.length - a.length; })
      .map(function (t) { return pattern(t).source; }).join("|"), "gi") : null;
    var fragment = document.createDocumentFragment();
    result.ranked.forEach(function (s) {
      var d = docs[s.n];
      var item = element("li", "search-hit");
      var heading = element("p", "search-title");
      var link = element("a");
      link.setAttribute("href", /^[^:?#]*\.html(#.*)?$/.test(d[4]) ? d[4] : "#");
      marked(link, d[0], any);
      heading.appendChild(link);
      item.appendChild(heading);
      var meta = element("p", "search-meta");
      if (d[1]) { var time = element("time", "", d[1]); time.setAttribute("datetime", d[1]); meta.appendChild(time); }
      if (d[2]) { var series = element("span", "search-series"); marked(series, d[2], any); meta.appendChild(series); }
      item.appendChild(meta);
      var snip = element("p", "search-snippet");
      marked(snip, snippet(d[5], res), any);
      item.appendChild(snip);
      fragment.appendChild(item);
    });
    list.appendChild(fragment);
    status.textContent = result.ranked.length
      ? "「" + q + "」：" + result.ranked.length + " 篇文章"
      : "没有找到含「" + q + "」的文章。";
    return result.ranked.length;
  }

  var shown = show(query);
  var done = performance.now();
  // Time to first result: from this script's start, and from the page's navigation start
  // (loading and parsing the index included); kept on the status line for tests and measurement.
  status.setAttribute("data-results", String(shown));
  status.setAttribute("data-script-ms", (done - started).toFixed(1));
  status.setAttribute("data-page-ms", done.toFixed(1));
  if (query) { status.appendChild(document.createTextNode("（" + Math.max(1, Math.round(done)) + " 毫秒）")); }
  if (window.console) { console.log("search: " + shown + " results in " + (done - started).toFixed(1) + " ms (" + done.toFixed(1) + " ms since navigation start)"); }
}());
