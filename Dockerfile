# The one image both workers run: `pulse ingest ...` or `pulse worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY workers ./workers
RUN pip install . && rm -rf /src

# Faust keeps its RocksDB tables under the data directory: a volume in compose and Kubernetes.
RUN useradd --uid 10001 --user-group --no-create-home pulse \
    && mkdir -p /var/lib/pulse \
    && chown pulse:pulse /var/lib/pulse
USER 10001:10001
WORKDIR /var/lib/pulse

ENTRYPOINT ["pulse"]
CMD ["--help"]
