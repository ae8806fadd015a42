# The one image both workers run: `pulse ingest ...` or `pulse worker`.
#
# build:   the locked runtime dependencies (wheels only, hashes checked) and the project's wheel
#          into the virtual environment /opt/pulse; the build tools stay in this stage.
# runtime: that environment (without pip and setuptools, which venv seeds) and tini: no compilers,
#          no build tools, no broker binary.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements ./requirements
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes -r requirements/build.txt \
    && python -m venv /opt/pulse \
    && /opt/pulse/bin/pip install --require-hashes --only-binary=:all: -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY workers ./workers
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/pulse/bin/pip install --no-deps /wheels/*.whl \
    && /opt/pulse/bin/pip uninstall --yes setuptools pip

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="realtime-pulse" \
      org.opencontainers.image.description="Supabase row changes to live, per-site dashboard updates through Kafka and Faust" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/${PYTHON_IMAGE}"

# tini is PID 1: the kernel drops signals a PID 1 has no handler for, and not every subcommand
# installs one; tini forwards SIGTERM to pulse and reaps what it leaves.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

ENV PATH=/opt/pulse/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/pulse /opt/pulse

# Faust keeps its RocksDB tables under the data directory: a volume in compose and Kubernetes.
RUN useradd --uid 10001 --user-group --no-create-home pulse \
    && mkdir -p /var/lib/pulse \
    && chown pulse:pulse /var/lib/pulse
USER 10001:10001
WORKDIR /var/lib/pulse

# /healthz of whichever worker runs here (workers/observability/container_health.py).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["python", "-m", "workers.observability.container_health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "pulse"]
CMD ["--help"]
