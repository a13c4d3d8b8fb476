# es-autoscaler image: hash-locked dependencies, the service as a wheel, non-root, no build tools.
#
#   docker build -t es-autoscaler .                          # StatefulSet targets
#   docker build --target ansible -t es-autoscaler:ansible . # + ansible-core/ansible-runner (VMs)
#
# The install recipe (wheel, then `pip install --require-hashes -r <lock>` into a venv, then the
# wheel with --no-deps) is replayed by tests/integration/deploy/test_image_install.py in a fresh
# venv, since no Docker engine runs in CI; keep the two in step (the test checks the commands).
# The paths match the Helm chart: policies /etc/es-autoscaler/policies, webhook token
# /etc/es-autoscaler/webhook/token, state and HOME under /var/lib/es-autoscaler.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- the wheel of this repository ---------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY autoscaler ./autoscaler
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- runtime virtualenv: locked dependencies, then the wheel without resolving anything --------
FROM ${PYTHON_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/runtime.lock /tmp/runtime.lock
RUN python -m venv /opt/es-autoscaler \
 && /opt/es-autoscaler/bin/pip install --no-cache-dir --require-hashes -r /tmp/runtime.lock
COPY --from=wheel /dist /tmp/dist
RUN /opt/es-autoscaler/bin/pip install --no-cache-dir --no-deps /tmp/dist/*.whl

# --- the same plus ansible-core + ansible-runner (the Ansible VM target) ------------------------
FROM venv AS venv-ansible
COPY requirements/ansible.lock /tmp/ansible.lock
RUN /opt/es-autoscaler/bin/pip install --no-cache-dir --require-hashes -r /tmp/ansible.lock

# --- common final layout --------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS base
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="es-autoscaler" \
      org.opencontainers.image.description="Event-driven autoscaler for Elasticsearch clusters: Alertmanager webhooks and node stats in, StatefulSet or Ansible scaling out, drain before remove" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="NOASSERTION"
# pip stays in the base image (it is Python's), but no compiler and no pip cache come along.
RUN groupadd --system --gid 10001 esas \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/es-autoscaler \
      --no-create-home --shell /usr/sbin/nologin esas \
 && mkdir -p /var/lib/es-autoscaler/state /etc/es-autoscaler/policies /etc/es-autoscaler/webhook \
 && chown -R 10001:10001 /var/lib/es-autoscaler
ENV PATH=/opt/es-autoscaler/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/es-autoscaler \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8
WORKDIR /var/lib/es-autoscaler
EXPOSE 8080
ENTRYPOINT ["es-autoscaler"]
CMD ["serve", "--policies=/etc/es-autoscaler/policies", "--webhook-token-file=/etc/es-autoscaler/webhook/token", "--state-dir=/var/lib/es-autoscaler/state", "--port=8080"]

# --- `--target ansible`: playbooks reach VMs over SSH ---------------------------------------------
FROM base AS ansible
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=venv-ansible /opt/es-autoscaler /opt/es-autoscaler
ENV ANSIBLE_HOME=/var/lib/es-autoscaler/ansible \
    ANSIBLE_LOCAL_TEMP=/tmp/ansible
USER 10001:10001

# --- default target: the StatefulSet service ------------------------------------------------------
FROM base AS runtime
COPY --from=venv /opt/es-autoscaler /opt/es-autoscaler
USER 10001:10001
