# Every user command of the project. The first `make run` or `make test` builds the
# environment from uv.lock (needs only Python >= 3.11, make and the package index).

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

export KEDRO_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export KEDRO_LOGGING_CONFIG := conf/logging.yml
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
CHROMIUM := /usr/bin/chromium
POSTGRES := /usr/bin/pg_ctlcluster
JAVA := /usr/bin/java
BLAS := /usr/lib/$(shell uname -m)-linux-gnu/libblas.so.3
ROWS ?= 2000
SEED ?= 2026
ENV ?=
ENV_OPTION := $(if $(ENV),--env=$(ENV))

.PHONY: help install run test docker-test lint bench bench-spark data viz notebook mlflow-ui score serve clean
.DEFAULT_GOAL := help

help:  ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process would
# otherwise compile MLflow, pandas and Kedro from source again (5 s of each `kedro run`).
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra spark --compile-bytecode
	$(BIN)/python -m compileall -q src
	@touch $@

install: $(VENV)/.synced  ## Create .venv from uv.lock (idempotent)

run: install  ## Train on data/01_raw/customers.csv and its order log (ENV=conf environment)
	$(BIN)/kedro run $(ENV_OPTION)

# The browser tests use Debian's chromium; installed here where apt-get may run, else skipped.
$(CHROMIUM):
	@-if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is not installed: the browser tests will be skipped"; fi

# The SQL-source tests start Debian's PostgreSQL; installed here where apt-get may run, else skipped.
$(POSTGRES):
	@-if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "postgresql is not installed: the SQL-source tests will be skipped"; fi

# The Spark tests need Java 17 (and MLlib Debian's BLAS); installed here where apt-get may run, else skipped.
$(JAVA) $(BLAS) &:
	@-if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless libopenblas0 >/dev/null; \
	else echo "Java 17 or Debian's BLAS is missing: without Java the Spark tests are skipped, without BLAS MLlib uses Java's"; fi

test: install | $(CHROMIUM) $(POSTGRES) $(JAVA) $(BLAS)  ## Lint, then run the test suite (with browser tests where Chromium is)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -m "not docker and not timing"
	$(BIN)/pytest -m timing -n 0

docker-test: install  ## Build the image, run docker-compose.yml, score customers, tear down (needs Docker)
	$(BIN)/pytest tests/docker -m docker -n 0 --log-cli-level=INFO

bench: install  ## Benchmarks (minutes): the speed targets, serving against mlflow, K-Prototypes, memory
	$(BIN)/python benchmarks/targets.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/kprototypes.py --kmodes-rows 2000
	$(BIN)/python benchmarks/behaviour.py
	$(BIN)/python benchmarks/memory.py

bench-spark: install | $(JAVA) $(BLAS)  ## Benchmark (hours): Spark and pandas at 1, 5, 10M customers, 10M and 100M order lines
	$(BIN)/python benchmarks/spark_scale.py

lint: install  ## Check style with ruff
	$(BIN)/ruff check src tests benchmarks

data: install  ## Regenerate data/01_raw/customers.csv and transactions.csv (ROWS=2000 SEED=2026 OUT=... TRANSACTIONS=...)
	$(BIN)/python -m customer_segmentation.data_generator --rows $(ROWS) --seed $(SEED) \
		--output $(or $(OUT),data/01_raw/customers.csv) \
		--transactions $(or $(TRANSACTIONS),data/01_raw/transactions.csv)

viz: install  ## Browse the pipelines in kedro-viz
	$(BIN)/kedro viz run

notebook: install  ## Open the notebooks in JupyterLab with the Kedro kernel (catalog, context)
	$(BIN)/kedro jupyter lab --notebook-dir=notebooks

mlflow-ui: install  ## Browse tracked runs and models on 127.0.0.1:5000 (store and address: conf/base/mlflow.yml)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/kedro mlflow ui  # it starts the `mlflow` on PATH

serve: install  ## Serve the last run's model over HTTP (HOST=127.0.0.1 PORT=8000 WORKERS=1 ENV=)
	$(if $(ENV),CUSTOMER_SEGMENTATION_ENV=$(ENV)) $(BIN)/uvicorn customer_segmentation.api:create_app --factory \
		--host $(HOST) --port $(PORT) --workers $(WORKERS)

score: install  ## Score a raw customer file (and its customers' orders) with the latest model (RAW=path ENV=)
	$(BIN)/customer-segmentation --pipelines=inference $(ENV_OPTION) $(if $(RAW),--params=raw_data_path=$(RAW))

clean:  ## Remove the environment, every pipeline output and the MLflow store
	rm -rf $(VENV) $(TOOLS) mlflow.db mlartifacts
	find data -mindepth 2 -not -path 'data/01_raw/*' -not -name .gitkeep -delete
