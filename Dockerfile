# syntax=docker/dockerfile:1
#
# One image for the bot (`python -m bot`, the default) and the transcription worker
# (`python -m worker`). Build:   docker build -t community-bot:latest .
# GPU worker image (adds the cuBLAS 12 runtime wheel, see docs/DEPLOYMENT.md):
#                               docker build --build-arg WITH_CUDA=true -t community-bot:cuda .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------
# builder: resolve the locked dependencies into /app/.venv with uv
# ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

# Byte-compile on install (faster start); copy out of the cache mount instead of
# hard-linking into it; use the image's Python, never download one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11

WORKDIR /app

# Dependency layer: changes only when pyproject.toml / uv.lock change. Only the
# `audio` extra: `test` (test-only models) and `dev` (linters) stay out of the image.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --extra audio --no-install-project

# The project itself (an editable install pointing at /app, which the runtime keeps).
COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY bot ./bot
COPY worker ./worker
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra audio \
 && python -m compileall -q --invalidation-mode checked-hash bot worker migrations

# Optional CUDA runtime for faster-whisper on a GPU: CTranslate2's Linux wheel loads
# libcublas.so.12 at run time (the NVIDIA container toolkit supplies libcuda.so.1).
# After the last `uv sync`, which would remove a package that is not in uv.lock.
ARG WITH_CUDA=false
ARG CUBLAS_VERSION=12.9.3.13
RUN --mount=type=cache,target=/root/.cache/uv \
    if [ "$WITH_CUDA" = "true" ]; then \
        uv pip install --python /app/.venv/bin/python "nvidia-cublas-cu12==${CUBLAS_VERSION}"; \
    fi

# ---------------------------------------------------------------------------------
# runtime: slim Python + ffmpeg + the venv and the code, as a non-root user
# ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="community-bot" \
      org.opencontainers.image.description="Telegram community bot and audio-to-text worker" \
      org.opencontainers.image.licenses="MIT"

# ffmpeg decodes voice notes in the worker. Not version-pinned on purpose: Debian
# security updates replace the exact version, which would break every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app

WORKDIR /app

# Code and venv stay owned by root (read-only for the app user).
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/pyproject.toml /app/alembic.ini /app/
COPY --from=builder /app/migrations /app/migrations
COPY --from=builder /app/worker /app/worker
COPY --from=builder /app/bot /app/bot

# data/: the SQLite default (DB__URL=sqlite+aiosqlite:///data/bot.sqlite3).
# ~/.cache/huggingface: Whisper models named by hub id (A2T__WHISPER__MODEL=small);
# created here so a volume mounted on it starts out owned by the app user.
# ld.so.conf: the CUDA wheels' libraries, present only in a WITH_CUDA=true build.
RUN install -d -o 10001 -g 10001 /app/data /home/app/.cache/huggingface \
 && for dir in /app/.venv/lib/python3.11/site-packages/nvidia/*/lib; do \
        if [ -d "$dir" ]; then echo "$dir" >> /etc/ld.so.conf.d/nvidia-wheels.conf; fi; \
    done \
 && ldconfig

ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

USER 10001:10001

# 9100: the bot's /metrics, /healthz, /readyz (METRICS__PORT); 9101: the worker's
# (METRICS__WORKER_PORT). Webhook mode also listens on BOT__WEBHOOK_PORT (8080).
EXPOSE 9100 9101

# No curl in the slim image: Python's urllib against ${METRICS__PORT:-9100}; any error
# (refused, timeout, non-2xx) exits 1. The worker overrides this in compose.yaml (its
# port is METRICS__WORKER_PORT). Needs METRICS__ENABLED=true (the default).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('METRICS__PORT') or '9100'), timeout=4)"]

CMD ["python", "-m", "bot"]
