# Two commands are the contract: `make demo` and `make test`. Both start from a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export TF_ENABLE_ONEDNN_OPTS ?= 0
DEMO_DIR ?= runs/demo

.PHONY: demo test test-slow lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[cpu,dev]'
	# tensorflow-serving-api declares the full `tensorflow`; beside tensorflow-cpu its stubs need no more.
	$(BIN)/python -m pip install --quiet --no-deps tensorflow-serving-api==2.21.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/netgan demo --out $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check netgan_tf tests benchmarks
	$(BIN)/ruff format --check netgan_tf tests benchmarks
	$(BIN)/mypy netgan_tf

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow -p no:cacheprovider || test $$? -eq 5  # exit 5: no slow case selected

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) runs build *.egg-info
