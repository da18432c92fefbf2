# A container action's image. The base is a build argument so tests can build against a local
# stand-in of python:3.12-slim on machines that cannot pull from a registry.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# GitHub runs container actions as root (it mounts the workspace and file-command folders owned by the
# runner and documents USER as unsupported), so this image deliberately has no USER line.
# hadolint ignore=DL3002

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

COPY requirements.txt /action/requirements.txt
# Only wheels, every file checked against the pinned hashes: no compiler runs and nothing unpinned lands.
RUN python -m pip install --no-cache-dir --require-hashes --only-binary=:all: -r /action/requirements.txt

COPY schema /action/schema
COPY northflank_release /action/northflank_release
COPY entrypoint.py /action/entrypoint.py

# Exec form: the Python process is PID 1 and receives the runner's SIGTERM itself.
ENTRYPOINT ["python", "/action/entrypoint.py"]
