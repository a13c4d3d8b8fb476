# es-autoscaler service image: hash-locked runtime dependencies, non-root, no build tools.
# Build: docker build -t es-autoscaler .   Run: docker run es-autoscaler serve --help
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements/runtime.lock requirements/runtime.lock
RUN python -m venv /opt/es-autoscaler \
 && /opt/es-autoscaler/bin/pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY autoscaler ./autoscaler
RUN /opt/es-autoscaler/bin/pip install --no-deps .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="es-autoscaler" \
      org.opencontainers.image.description="Event-driven autoscaler for Elasticsearch clusters"
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin esas \
 && mkdir -p /var/lib/es-autoscaler && chown 10001 /var/lib/es-autoscaler
COPY --from=build /opt/es-autoscaler /opt/es-autoscaler
COPY policies /etc/es-autoscaler/policies
ENV PATH=/opt/es-autoscaler/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ESAS_POLICIES=/etc/es-autoscaler/policies \
    ESAS_STATE_DIR=/var/lib/es-autoscaler
WORKDIR /var/lib/es-autoscaler
USER 10001
EXPOSE 8080
ENTRYPOINT ["es-autoscaler"]
CMD ["serve"]
