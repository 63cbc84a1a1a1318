# Pulse CRM: one image for every role (serve, worker, vendor, migrate, doctor).
# Build: docker build -t pulsecrm .   Run: see compose.yaml and docs/operations.md.
# Both stages install and start through deploy/pulsecrm.sh, the script CI runs (.ci/run).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY requirements.txt pyproject.toml README.md ./
COPY src ./src
COPY deploy ./deploy
RUN PULSECRM_HOME=/opt/pulsecrm deploy/pulsecrm.sh install

FROM python:3.11-slim-bookworm
# The virtual environment points at /usr/local/bin/python3.11 of the same base image.
COPY --from=build /opt/pulsecrm /opt/pulsecrm
COPY deploy/pulsecrm.sh /usr/local/bin/pulsecrm.sh
RUN useradd --system --uid 10001 --home-dir /var/lib/pulsecrm --create-home pulse
USER pulse
WORKDIR /var/lib/pulsecrm
ENV PULSECRM_HOME=/opt/pulsecrm \
    PULSECRM_HOST=0.0.0.0 \
    PULSECRM_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD ["/opt/pulsecrm/bin/python", "-c", "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PULSECRM_PORT', '8000') + '/healthz', timeout=2)"]
ENTRYPOINT ["/usr/local/bin/pulsecrm.sh", "start"]
CMD ["serve"]
