# syntax=docker/dockerfile:1
# Production image: slim Python 3.11, the package installed into a venv, runs as a non-root
# user, and works with a read-only root file system (only /tmp needs to be writable).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY runbooks ./runbooks
# gcc, pkg-config and cairo's headers build pycairo for the charts extra (mplcairo).
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc pkg-config libcairo2-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/chatops \
 && /opt/chatops/bin/pip install '.[charts]' \
 && /opt/chatops/bin/python -m compileall -q /opt/chatops

FROM python:3.11-slim
ENV PATH=/opt/chatops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CHATOPS_CONFIG=/etc/chatops/chatops.yaml \
    DATABASE_URL=sqlite:////var/lib/chatops/chatops.db
# cairo itself, which pycairo and mplcairo load (the charts).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcairo2 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 chatops \
 && useradd --system --uid 10001 --gid chatops --home-dir /var/lib/chatops --create-home \
      --shell /usr/sbin/nologin chatops
COPY --from=build /opt/chatops /opt/chatops
# The built-in runbooks are inside the package (bot/_runbooks); a team mounts its own and
# names the directory in chatops.yaml (runbooks_dir).
COPY chatops.example.yaml /app/chatops.example.yaml
WORKDIR /app
USER 10001:10001
EXPOSE 3000
# Both modes listen on 3000 for the probes. slim has no curl, so Python's urllib asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["chatops"]
CMD ["serve"]
