/*
 *  MathJax 2.7.9 extension loaded by worker.js inside mathjax-node's page.
 *
 *  1. The blog's TeX set-up: mathjax-node always loads TeX/autoload-all.js, which
 *     would give \cancel, \ce, \enclose, \begin{CD}, \begingroup ... to formulas that
 *     the blog's readers see as "undefined".  Those autoload stubs are removed.
 *  2. A journal of user definitions (\newcommand, \def, \let, \DeclareMathOperator ...
 *     all go through setDef/setEnv), undone by the macro \anthologyReset so that one
 *     post's macros never leak into the next; it also clears equation numbers and labels.
 *  3. A journal of what AMS numbering does while one formula is parsed: every numbered
 *     row (tag text, \tag*, label, element id) and every \ref/\eqref.  The worker drains
 *     it after each formula.  Nothing is journaled during AMSmath's re-parse for forward
 *     references (AMS.refUpdate): that pass only fills in numbers.
 *  4. Undefined control sequences, journaled: the page loads TeX/noUndefined, so a formula
 *     with an undefined macro is drawn (the macro in red) and still numbered; the worker
 *     loads it too, so numbers match the page, and reports the macro as the error.
 *  5. \anthologyNoTags at the start of a formula makes \tag{…} and \tag*{…} read their
 *     argument and draw nothing: the worker draws formulas without their tags.
 *  6. \anthologyNames journals the names this set-up knows (control sequences of the
 *     macros, mathchar0mi/mo, mathchar7 and delimiter tables, and environments), for the
 *     worker's names request: undefined ones are matched against them ("did you mean").
 */
MathJax.Extension["anthology-blog"] = {version: "1.0"};

MathJax.Hub.Register.StartupHook("TeX Jax Ready", function () {
  var TEX = MathJax.InputJax.TeX, TEXDEF = TEX.Definitions;
  var definitions = [];

  function remember(table, name) {
    var t = TEXDEF[table];
    definitions.push([table, name, t.hasOwnProperty(name), t[name]]);
  }

  TEX.Parse.Augment({
    setDef: function (name, value) {
      remember("macros", name);
      value.isUser = true; TEXDEF.macros[name] = value;
    },
    setEnv: function (name, value) {
      remember("environment", name);
      value.isUser = true; TEXDEF.environment[name] = value;
    },
    AnthologyReset: function () {
      while (definitions.length) {
        var d = definitions.pop();
        if (d[2]) {TEXDEF[d[0]][d[1]] = d[3]} else {delete TEXDEF[d[0]][d[1]]}
      }
      if (TEX.resetEquationNumbers) {TEX.resetEquationNumbers(0, false)}
    }
  });
  TEXDEF.Add({macros: {anthologyReset: "AnthologyReset"}}, null, true);
});

MathJax.Hub.Register.StartupHook("TeX autoload-all Ready", function () {
  var TEXDEF = MathJax.InputJax.TeX.Definitions;
  var notOnBlog = {action: 1, begingroup: 1, cancel: 1, enclose: 1, mhchem: 1, AMScd: 1};
  function isStub(v) {
    return v instanceof Array && (v[0] === "Extension" || v[0] === "ExtensionEnv") &&
           notOnBlog[v[v[0] === "Extension" ? 1 : 2]];
  }
  ["macros", "environment"].forEach(function (table) {
    var t = TEXDEF[table];
    for (var name in t) {if (t.hasOwnProperty(name) && isStub(t[name])) {delete t[name]}}
  });
});

MathJax.Hub.Register.StartupHook("TeX AMSmath Ready", function () {
  var TEX = MathJax.InputJax.TeX, AMS = MathJax.Extension["TeX/AMSmath"];
  var STACKITEM = TEX.Stack.Item;
  // The journal hangs off the current label table under a registry symbol (shared by
  // every realm of the process), so worker.js reads it through mathjax-node's state.
  var KEY = Symbol.for("kexue-anthology.journal");
  function journal() {
    var table = AMS.labels;
    if (!Object.prototype.hasOwnProperty.call(table, KEY)) {
      Object.defineProperty(table, KEY, {value: {tags: [], refs: [], undef: []}, enumerable: false, writable: true});
    }
    return table[KEY];
  }

  var HandleTag = TEX.Parse.prototype.HandleTag;
  var HandleRef = TEX.Parse.prototype.HandleRef;
  TEX.Parse.Augment({
    AnthologyNoTags: function () {this.stack.global.anthologyNoTags = true},
    AnthologyNames: function () {
      var DEF = TEX.Definitions, macros = {}, environments = {};
      function add(set, name) {if (!/^anthology/.test(name)) {set[name] = true}}
      ["macros", "mathchar0mi", "mathchar0mo", "mathchar7", "delimiter"].forEach(function (table) {
        for (var name in DEF[table]) {
          // the delimiter table's control sequences carry their backslash, the others' do not
          var m = DEF[table].hasOwnProperty(name) && /^\\?([A-Za-z]+)$/.exec(name);
          if (m) {add(macros, m[1])}
        }
      });
      for (var env in DEF.environment) {if (DEF.environment.hasOwnProperty(env)) {add(environments, env)}}
      journal().names = {macros: Object.keys(macros).sort(), environments: Object.keys(environments).sort()};
    },
    HandleTag: function (name) {
      if (this.stack.global.anthologyNoTags) {this.GetStar(); this.GetArgument(name); return}
      var i = this.i, star = (this.GetNext() === "*");
      this.i = i;
      HandleTag.call(this, name);
      this.stack.global.anthologyStar = star;
    },
    HandleRef: function (name, eqref) {
      if (!AMS.refUpdate) {
        var i = this.i, label = null;
        try {label = this.GetArgument(name)} catch (e) {label = null}
        this.i = i;
        if (label !== null) journal().refs.push({label: label, eqref: !!eqref});
      }
      return HandleRef.call(this, name, eqref);
    }
  });

  TEX.Definitions.Add({macros: {anthologyNoTags: "AnthologyNoTags", anthologyNames: "AnthologyNames"}}, null, true);

  var getTag = STACKITEM.prototype.getTag;
  STACKITEM.Augment({
    getTag: function () {
      var global = this.global;
      var info = {tag: global.tagID, star: !!global.anthologyStar, label: global.label || null};
      delete global.anthologyStar;
      var tag = getTag.call(this);
      if (!AMS.refUpdate) {
        info.id = tag.id;
        info.tag = (info.tag == null ? null : String(info.tag));
        journal().tags.push(info);
      }
      return tag;
    }
  });

  // A formula whose parse loads an extension is parsed again from the start once it is in.
  TEX.prefilterHooks.Add(function () {
    if (!AMS.refUpdate) {var j = journal(); j.tags = []; j.refs = []; j.undef = []}
  });

  MathJax.Hub.Register.MessageHook("TeX Jax - undefined control sequence", function (msg) {
    if (!AMS.refUpdate) journal().undef.push(String(msg[1]));
  });
});

MathJax.Ajax.loadComplete("[anthology]/blog-ext.js");
