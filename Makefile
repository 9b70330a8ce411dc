# kexue-anthology — see README.md.
PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.setup-done
PYSTAMP  := $(VENV)/.python-done
MATHJAX  := pipeline/kexue_anthology/engine
NPMSTAMP := $(MATHJAX)/node_modules/.anthology-installed
CONTENT  ?=
SERIES   ?=
APT_PACKAGES := nodejs npm fonts-noto-cjk fonts-lmodern poppler-utils libharfbuzz-subset0
# What the tests look through besides: a browser for screenshots, epubcheck for the ebooks, and the
# shells whose completions are run (zsh, fish; bash is there already).
TEST_PACKAGES := chromium epubcheck zsh fish
# The checkers the tests run on the outputs (tests/checkers): the Nu HTML Checker (a jar: Java comes
# with epubcheck) and DAISY Ace on the system Chromium; no install script runs, nothing else is downloaded.
CHECKERS := tests/checkers
CHECKSTAMP := $(CHECKERS)/node_modules/.anthology-installed

.PHONY: setup system test-system apt check list html serve epub series test test-fast lint fuzz bench pdf clean update-golden

setup: $(STAMP)

$(STAMP): $(PYSTAMP) $(NPMSTAMP)
	@$(MAKE) --no-print-directory system
	touch $(STAMP)

# The MathJax worker's npm packages, into the checkout (an installed package puts them in its cache
# folder on first use instead): again only when the lockfile changes, not with every pyproject.toml.
$(NPMSTAMP): $(MATHJAX)/package-lock.json
	@$(MAKE) --no-print-directory system
	cd $(MATHJAX) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NPMSTAMP)

# The venv with the package and its test extras: all the fast tier needs (no system package).
$(PYSTAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(PYSTAMP)

# System packages: installed with apt-get when running as root, else the command is printed.
system:
	@$(MAKE) --no-print-directory apt PACKAGES="$(APT_PACKAGES)"

test-system:
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_PACKAGES)"

apt:
	@missing=""; \
	for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if command -v node >/dev/null 2>&1; then missing=$$(echo $$missing | tr ' ' '\n' | grep -vx 'nodejs\|npm' | tr '\n' ' '); fi; \
	if [ -n "$$(echo $$missing)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "run: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

check: setup
	$(BIN)/anthology check $(CONTENT)

list: setup
	$(BIN)/anthology list $(CONTENT)

# out/ is this checkout's own build folder (git-ignored): the targets replace what is there (--force).
# The files are named as `anthology build` names them with no --out (the project file's [outputs], else
# out/site, out/TITLE.epub, out/TITLE.pdf), so a book has one name however it is built.
html: setup
	$(BIN)/anthology build html $(CONTENT) --force

# The author's preview: the site served on 127.0.0.1, rebuilt and reloaded on every save (Ctrl-C stops).
serve: setup
	$(BIN)/anthology serve $(CONTENT) --open

epub: setup
	$(BIN)/anthology build epub $(CONTENT) --force

# One series as its own books (EPUB and PDF): make series SERIES=最小熵原理 [CONTENT=../shared/corpus]
series: setup
	@test -n "$(SERIES)" || { echo "usage: make series SERIES=NAME [CONTENT=…]"; exit 2; }
	@# the tool names the files (out/NAME.epub, .pdf; a long or odd name bounded); both are built, then
	@# the target fails if either had errors
	@status=0; \
	$(BIN)/anthology build epub $(CONTENT) --series "$(SERIES)" --force || status=$$?; \
	$(BIN)/anthology build pdf $(CONTENT) --series "$(SERIES)" --force || status=$$?; \
	exit $$status

$(CHECKSTAMP): $(CHECKERS)/package-lock.json
	@$(MAKE) --no-print-directory system
	cd $(CHECKERS) && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(CHECKSTAMP)

test: setup system test-system $(CHECKSTAMP)
	$(BIN)/python -m pytest -q -rs

# The fast tier: pure Python, no Node, pandoc, WeasyPrint, browser, venv or ../shared, no waiting on file
# system events, no fresh `python -m kexue_anthology` process (markers in pyproject.toml).
FAST := not (engine or pandoc or weasyprint or browser or package or corpus or oracle or watch or process)
# Lint and types: ruff with the rules in pyproject.toml, mypy --strict over pipeline/.
lint: $(PYSTAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Its bytecode (the tests' rewritten asserts above all: two thirds of collecting them) kept in the venv
# from one run to the next, even where PYTHONDONTWRITEBYTECODE is set, and never beside the sources.
test-fast: $(PYSTAMP)
	env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache $(BIN)/python -m pytest -q -rs -m "$(FAST)"

# Property-based tests with a long budget (make test runs them with a small, fixed one), so no per-test limit.
FUZZ_EXAMPLES ?= 300
fuzz: setup system test-system
	ANTHOLOGY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q --timeout=0 tests/test_fuzz_read.py tests/test_fuzz_build.py

bench: setup
	$(BIN)/python -m benchmarks.bench

# The main job: the printable anthology of the bundled sample (or CONTENT=…), out/科学空间文集.pdf
# (out/TITLE.pdf: the book's title).
pdf: setup system
	$(BIN)/anthology build pdf $(CONTENT) --force

# Each golden test rewrites its reference and reports itself skipped ("rewrote …"): then read the diff.
GOLDEN := tests/test_cases.py tests/test_render_pixels.py tests/test_pdf.py::test_golden_page
update-golden: setup system
	$(BIN)/python -m pytest -q -rs --update-golden $(GOLDEN)

clean:
	rm -rf out .pytest_cache
