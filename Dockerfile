# The operator's image. Build from the repository root:
#   docker build -t ghcr.io/es-inference-operator/es-inference-operator:0.2.0 .
# Debian 12's own Python 3.11 on debian:bookworm-slim: the test bed builds this same file with buildah on a
# debian:bookworm-slim it makes from Debian packages (testbed/node/images.py), so the image users build and the
# one the tests run are one recipe. Stage 1 builds the wheels (the operator's and its pinned dependencies');
# stage 2 installs them into a virtualenv from there, offline, with no compiler or pip cache, and runs as a
# numeric non-root user.

FROM debian:bookworm-slim AS build
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /build-venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN /build-venv/bin/pip wheel --wheel-dir /wheels .

FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/es-inference-operator/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN python3 -m venv /opt/es-inference-operator \
    && pip install --no-index --find-links /wheels es-inference-operator \
    && pip uninstall --yes pip setuptools \
    && rm -rf /wheels \
    && groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin nonroot
USER 65532:65532
# 8080: Prometheus metrics (OPERATOR_METRICS_PORT); 8081: kopf's /healthz (--liveness).
EXPOSE 8080 8081
ENTRYPOINT ["es-inference-operator"]
