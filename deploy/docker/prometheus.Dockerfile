# Prometheus for the compose stack, built from Debian's `prometheus` package because this
# project's CI has no image registry. Where Docker Hub is reachable you can use the official
# image instead: in deploy/compose/docker-compose.yml replace the prometheus service's `build:`
# with `image: prom/prometheus:v2.51.2` (same entrypoint shape, same flags, same config path,
# same /prometheus data dir, and it ships wget for the healthcheck).
#   docker build -f deploy/docker/prometheus.Dockerfile -t ringway/prometheus:local .
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# wget: for the compose healthcheck (GET /-/ready), as in the official image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus wget \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /prometheus \
 && chown prometheus:prometheus /prometheus

COPY deploy/prometheus/prometheus.yml /etc/prometheus/prometheus.yml
# The rules it loads (rule_files: rules/*.yml, relative to the config); check config checks
# them too, so a broken rule fails the image build.
COPY deploy/prometheus/rules/ /etc/prometheus/rules/
RUN promtool check config /etc/prometheus/prometheus.yml

USER prometheus
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", \
     "--storage.tsdb.path=/prometheus", \
     "--web.listen-address=0.0.0.0:9090"]
