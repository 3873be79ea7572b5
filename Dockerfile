# evidence-agent: the scheduled collector.
#
#   podman build --format docker -t evidence-agent .                  (docker build works too)
#   podman build --format docker --target demo -t evidence-agent:demo .   (+ local simulators)
#
#   podman run --rm -v ./evidence.toml:/etc/evidence/evidence.toml:ro \
#              -v evidence-data:/var/lib/evidence evidence-agent             # runs `schedule`
#   podman run --rm ... evidence-agent collect --control CC6.1             # a manual run
#   podman run --rm evidence-agent:demo demo --dir /tmp/demo                # try it out
#
# Nothing secret is in the image: the config is mounted at /etc/evidence/evidence.toml
# ($EVIDENCE_CONFIG); the signing key and credential files are mounted (Secrets) or come from
# the environment (a secret in the config is `{ env = "NAME" }` or `{ file = "/run/secrets/x" }`).

ARG BASE=debian:bookworm-slim

# ---- build: a virtualenv with the package and its dependencies ---------------------------
FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md* ./
# dependencies first: a cached layer while only the sources change
RUN python3 -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
extras = sys.argv[1:]; \
print("\n".join(p["dependencies"] + [d for e in extras for d in p["optional-dependencies"][e]]))' \
      > requirements.txt \
 && python3 -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["optional-dependencies"]["demo"]))' > requirements-demo.txt \
 && python3 -m venv /opt/evidence \
 && /opt/evidence/bin/pip install -q -r requirements.txt
COPY collector/ collector/
COPY connectors/ connectors/
COPY schedules/ schedules/
COPY storage/ storage/
COPY fieldwork/ fieldwork/
COPY simulators/ simulators/
RUN { [ -f README.md ] || : > README.md; } \
 && /opt/evidence/bin/pip install -q --no-deps . \
 && /opt/evidence/bin/python -c "import collector.cli, connectors.registry, schedules"
# the demo's extra dependencies (local simulators) go into a copy of the virtualenv; then
# bytecode for every module, never checked against its source (the runtime sets
# PYTHONDONTWRITEBYTECODE: a missing .pyc would be compiled again on every command); aenum
# ships a Python 2 module (_py2.py) that Python 3 never imports and cannot compile
RUN cp -a /opt/evidence /opt/evidence-demo \
 && for f in /opt/evidence-demo/bin/*; do \
        [ -L "$f" ] || [ ! -f "$f" ] || sed -i '1s|^#!/opt/evidence/|#!/opt/evidence-demo/|' "$f"; \
    done \
 && /opt/evidence-demo/bin/pip install -q -r requirements-demo.txt \
 && for v in /opt/evidence /opt/evidence-demo; do \
        $v/bin/pip uninstall -q -y pip setuptools \
     && find $v -depth -type d \( -name tests -o -name test \) -path '*/site-packages/*' \
             -exec rm -rf {} + \
     && $v/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
            -x '/aenum/_py2\.py$' $v/lib \
     || exit 1; \
    done \
 && /opt/evidence-demo/bin/evidence --version

# ---- runtime base: Debian's Python, tini, a non-root user --------------------------------
FROM ${BASE} AS base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 tini ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
           /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
 && groupadd --system --gid 10001 evidence \
 && useradd --system --uid 10001 --gid evidence --home-dir /var/lib/evidence \
            --shell /usr/sbin/nologin evidence \
 && install -d -o evidence -g evidence -m 0750 /var/lib/evidence \
 && install -d -m 0755 /etc/evidence
ENV EVIDENCE_CONFIG=/etc/evidence/evidence.toml \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /var/lib/evidence
VOLUME ["/var/lib/evidence"]
# `evidence status` exits non-zero when a schedule missed its window
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=2 \
    CMD ["evidence", "status"]
# tini is PID 1: it forwards SIGTERM to `evidence` and reaps children (also on Kubernetes,
# which has no --init)
ENTRYPOINT ["/usr/bin/tini", "--", "evidence"]
CMD ["schedule"]

# ---- demo: the runtime plus the local simulators (`evidence demo`) -----------------------
FROM base AS demo
COPY --from=build /opt/evidence-demo /opt/evidence-demo
ENV PATH=/opt/evidence-demo/bin:$PATH

# ---- runtime (default target) ------------------------------------------------------------
FROM base AS runtime
COPY --from=build /opt/evidence /opt/evidence
ENV PATH=/opt/evidence/bin:$PATH
