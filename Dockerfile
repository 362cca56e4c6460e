# syntax=docker/dockerfile:1
# The webscale operator image.
#   docker build -t ghcr.io/webscale-dev/webscale-operator:0.1.0 .
#   docker run --rm -v ~/.kube/config:/home/webscale/.kube/config:ro ghcr.io/webscale-dev/webscale-operator:0.1.0
# In a cluster it uses its ServiceAccount (manifests/base, manifests/helm).
# Settings are WEBSCALE_* environment variables (operator/webscale/settings.py).

# Base image pinned to a patch release and Debian release (both stages use the same one). For
# byte-for-byte reproducible builds pin its digest too: docker buildx imagetools inspect <image>.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- build: install the package and its pinned dependencies into a venv -----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/webscale
ENV PATH=/opt/webscale/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
COPY operator ./operator
RUN pip install --no-cache-dir .

# --- runtime: the venv only, run as uid 1000 -----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/webscale/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --gid 1000 webscale \
 && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin webscale
COPY --from=build /opt/webscale /opt/webscale
# Numeric, so Kubernetes can check runAsNonRoot without looking the name up.
USER 1000:1000
WORKDIR /home/webscale
# kopf's liveness endpoint (/healthz; WEBSCALE_LIVENESS_PORT).
EXPOSE 8080
ENTRYPOINT ["webscale"]
CMD ["run"]
