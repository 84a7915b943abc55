# The scoring service, and the tools to train it (`kedro run`) and browse runs (`mlflow ui`).
#   docker compose up --build          # train, then serve on 127.0.0.1:8000 (docs/deployment.md)
# Models are not baked in: the API serves what `kedro run` wrote to the /app/data volume; runs
# and registered models are on the /app/tracking volume.

# --- build: /app as it will run: the virtual environment from uv.lock, code, configuration --
FROM python:3.11-slim AS build
ARG UV_VERSION=0.13.8
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev
COPY conf ./conf

# --- runtime: environment, code and configuration, run by an unprivileged user ---------------
FROM python:3.11-slim
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GIT_PYTHON_REFRESH=quiet \
    KEDRO_ENV=docker \
    KEDRO_LOGGING_CONFIG=conf/logging.yml \
    KEDRO_DISABLE_TELEMETRY=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    UVICORN_HOST=0.0.0.0 \
    UVICORN_PORT=8000 \
    UVICORN_WORKERS=1
# `app` owns only what the volumes mount over: /app/data and /app/tracking (a new named volume
# starts as a copy of them), and /app itself for the log file.
RUN useradd --create-home --uid 10001 --user-group app \
    && install -d -o app -g app /app /app/tracking
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"UVICORN_PORT\"]}/health', timeout=2)"]
CMD ["uvicorn", "customer_segmentation.api:create_app", "--factory"]
USER 10001:10001
# The large layers last, so that the settings above never copy them again.
COPY --from=build /app ./
COPY --chown=10001:10001 data ./data
