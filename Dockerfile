# A container action's image. The base is a build argument so tests can build against a local
# stand-in of python:3.12-slim on machines that cannot pull from a registry.
ARG BASE_IMAGE=python:3.12-slim

# The build stage: a distribution, pip and the wheels; only what a run needs leaves it (image/rootfs.py).
FROM ${BASE_IMAGE} AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A static busybox provides the shell and the few commands the Kubernetes runner hook runs in the step's
# container (image/rootfs.py lists them, with the hook's source); binutils' strip takes debug information
# out of what is copied. Debian's stable archive replaces a package's version on each point release, so
# a pinned version would stop resolving: unpinned on purpose.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends busybox-static binutils \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt /action/requirements.txt
# Only wheels, every file checked against the pinned hashes: no compiler runs and nothing unpinned lands.
RUN python -m pip install --no-cache-dir --require-hashes --only-binary=:all: -r /action/requirements.txt

COPY schema /action/schema
COPY northflank_release /action/northflank_release
COPY entrypoint.py /action/entrypoint.py
COPY image /build/image

# The final root, then the check that every shared library its programs load (ldd) is in it: a library
# left out fails the build here, not a user's step.
WORKDIR /build
RUN python -m image.rootfs /rootfs && python -m image.libcheck /rootfs

# The image: no distribution, no package manager; the interpreter, the action and busybox.
FROM scratch

# GitHub runs container actions as root (it mounts the workspace and file-command folders owned by the
# runner and documents USER as unsupported), so this image deliberately has no USER line.
COPY --from=build /rootfs /

ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# No bytecode comes along, so every run would recompile each module it imports (~0.4 s a run). One dry run
# here, in the final image (which also shows it runs), writes the .pyc files of exactly the modules a run
# imports, where compiling the whole standard library would add ~29 MB. A YAML argument loads the YAML parser.
RUN PYTHONDONTWRITEBYTECODE='' NORTHFLANK_API_TOKEN=image-build NORTHFLANK_PROJECT_ID=image-build \
    NORTHFLANK_PIPELINE_ID=image-build NORTHFLANK_STAGE=development NORTHFLANK_DRY_RUN=true \
    NORTHFLANK_ARGUMENTS="warm: up" python /action/entrypoint.py >/dev/null

# Exec form: the Python process is PID 1 and receives the runner's SIGTERM itself.
# -I isolates the interpreter from the workflow: the runner passes the job's env into the container, so a
# PYTHONPATH pointing at the workspace (with its own email.py, say) or PYTHONHOME would otherwise break the
# action. -I also ignores PYTHONUNBUFFERED and PYTHONDONTWRITEBYTECODE, hence -u and -B.
ENTRYPOINT ["python", "-I", "-u", "-B", "/action/entrypoint.py"]
