# syntax=docker/dockerfile:1
#
# One file, two images (named targets):
#   cpu  (the default) the bot and CPU workers: python:3.11-slim + ffmpeg
#          docker build --target cpu -t community-bot:latest .
#   cuda GPU workers: NVIDIA's CUDA 12.8 runtime (cuBLAS 12) + Python 3.11 + ffmpeg
#          docker build --target cuda -t community-bot:cuda .
# Both install exactly uv.lock (`uv sync --frozen`, the `audio` extra), run as uid 10001
# and have a HEALTHCHECK on /healthz.
#
# Bake a Whisper model from the Hugging Face hub into the image (the build then needs
# network; the image starts without any download):
#   docker build --target cpu --build-arg HF_MODEL=Systran/faster-whisper-small \
#                --build-arg HF_MODEL_REVISION=<commit> -t community-bot:small .
# The model lands in /opt/models/whisper and A2T__WHISPER__MODEL points there.
# See docs/OPERATIONS.md ("Images").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# CTranslate2's Linux wheels (4.6.3 and later, so the locked 4.8.x) are built against
# CUDA 12.8 with cuDNN switched off (WITH_CUDNN=OFF: its Conv1D has a pure CUDA
# kernel): at run time they load libcublas.so.12 only, which the `runtime` flavour
# carries; the `cudnn` flavours would add about 1 GB for nothing. The driver must
# support CUDA 12.8 (R570 or newer, or an older R525+ driver with CUDA's forward
# compatibility). Pin a digest for reproducible builds: --build-arg CUDA_IMAGE=...@sha256:...
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------------
# builder: the locked dependencies and the project into /app/.venv, for the slim
# image's own Python
# ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

COPY --from=uv /uv /uvx /bin/

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

# ---------------------------------------------------------------------------------
# models: an optional hub model, downloaded once at build time with the locked
# faster-whisper (empty /opt/models/whisper when HF_MODEL is not given)
# ---------------------------------------------------------------------------------
FROM builder AS models

ARG HF_MODEL=""
ARG HF_MODEL_REVISION=""
RUN mkdir -p /opt/models/whisper \
 && if [ -n "$HF_MODEL" ]; then \
        /app/.venv/bin/python -c "import sys; from faster_whisper import download_model; download_model(sys.argv[1], output_dir='/opt/models/whisper', revision=sys.argv[2] or None)" \
            "$HF_MODEL" "$HF_MODEL_REVISION" \
     && test -f /opt/models/whisper/model.bin \
     && rm -rf /opt/models/whisper/.cache; \
    fi

# ---------------------------------------------------------------------------------
# cuda-builder: the same venv for the CUDA image's Python (a uv-managed CPython 3.11:
# Ubuntu 24.04 ships 3.12, and the lock is made for 3.11)
# ---------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS cuda-builder

COPY --from=uv /uv /uvx /bin/

ARG CUDA_PYTHON_VERSION=3.11.18
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON_PREFERENCE=only-managed \
    UV_PYTHON=${CUDA_PYTHON_VERSION}

WORKDIR /app

RUN --mount=type=cache,target=/root/.cache/uv \
    uv python install "${CUDA_PYTHON_VERSION}"

RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --extra audio --no-install-project

COPY pyproject.toml uv.lock README.md alembic.ini ./
COPY bot ./bot
COPY worker ./worker
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra audio \
 && .venv/bin/python -m compileall -q --invalidation-mode checked-hash bot worker migrations

# ---------------------------------------------------------------------------------
# cuda: GPU workers (`python -m worker` by default; A2T__DEVICE=cuda)
# ---------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS cuda

LABEL org.opencontainers.image.title="community-bot (CUDA)" \
      org.opencontainers.image.description="Audio-to-text worker on NVIDIA GPUs" \
      org.opencontainers.image.licenses="MIT"

# ffmpeg decodes voice notes. Not version-pinned on purpose: Ubuntu security updates
# replace the exact version, which would break every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app

WORKDIR /app

COPY --from=cuda-builder /opt/python /opt/python
COPY --from=cuda-builder /app/.venv /app/.venv
COPY --from=cuda-builder /app/pyproject.toml /app/alembic.ini /app/
COPY --from=cuda-builder /app/migrations /app/migrations
COPY --from=cuda-builder /app/worker /app/worker
COPY --from=cuda-builder /app/bot /app/bot
COPY --from=models /opt/models /opt/models

RUN install -d -o 10001 -g 10001 /app/data /home/app/.cache/huggingface

ARG HF_MODEL=""
# The toolkit mounts the driver's libcuda.so.1; cuBLAS comes with the base image.
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    A2T__DEVICE=cuda \
    A2T__WHISPER__MODEL=${HF_MODEL:+/opt/models/whisper}

USER 10001:10001

EXPOSE 9101

HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('METRICS__WORKER_PORT') or '9101'), timeout=4)"]

CMD ["python", "-m", "worker"]

# ---------------------------------------------------------------------------------
# cpu (the default target): slim Python + ffmpeg + the venv and the code, non-root
# ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS cpu

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
COPY --from=models /opt/models /opt/models

# data/: the SQLite default (DB__URL=sqlite+aiosqlite:///data/bot.sqlite3).
# ~/.cache/huggingface: Whisper models named by hub id (A2T__WHISPER__MODEL=small);
# created here so a volume mounted on it starts out owned by the app user.
RUN install -d -o 10001 -g 10001 /app/data /home/app/.cache/huggingface

ARG HF_MODEL=""
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    A2T__WHISPER__MODEL=${HF_MODEL:+/opt/models/whisper}

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
