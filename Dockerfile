# A container action's image. The base is a build argument so tests can build against a local
# stand-in of python:3.12-slim on machines that cannot pull from a registry.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# GitHub runs container actions as root (it mounts the workspace and file-command folders owned by the
# runner and documents USER as unsupported), so this image deliberately has no USER line.

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

# The base image ships no bytecode, so every run would recompile each module it imports (~0.4 s a run).
# One dry-run here writes the .pyc files of exactly the modules a run imports (a few MB), where
# compiling the whole standard library would add ~29 MB. A YAML argument makes it load the YAML parser too.
RUN PYTHONDONTWRITEBYTECODE='' NORTHFLANK_API_TOKEN=image-build NORTHFLANK_PROJECT_ID=image-build \
    NORTHFLANK_PIPELINE_ID=image-build NORTHFLANK_STAGE=development NORTHFLANK_DRY_RUN=true \
    NORTHFLANK_ARGUMENTS="warm: up" python /action/entrypoint.py >/dev/null

# Exec form: the Python process is PID 1 and receives the runner's SIGTERM itself.
# -I isolates the interpreter from the workflow: the runner passes the job's env into the container, so a
# PYTHONPATH pointing at the workspace (with its own email.py, say) or PYTHONHOME would otherwise break the
# action. -I also ignores PYTHONUNBUFFERED and PYTHONDONTWRITEBYTECODE, hence -u and -B.
ENTRYPOINT ["python", "-I", "-u", "-B", "/action/entrypoint.py"]
