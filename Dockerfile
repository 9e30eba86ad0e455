# The operator's image. Build from the repository root:
#   docker build -t ghcr.io/es-inference-operator/es-inference-operator:0.2.0 .
# Stage 1 builds the wheels (the operator's and its pinned dependencies'); stage 2 installs them from
# there, offline, with no compiler or pip cache, and runs as a numeric non-root user.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11.14-slim-bookworm
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels es-inference-operator \
    && rm -rf /wheels \
    && groupadd --system --gid 65532 operator \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin operator
USER 65532:65532
# 8080: Prometheus metrics (OPERATOR_METRICS_PORT); 8081: kopf's /healthz (--liveness).
EXPOSE 8080 8081
ENTRYPOINT ["es-inference-operator"]
