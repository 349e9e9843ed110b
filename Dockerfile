# The orch controller image (`orch controller`), also usable as the CLI.
# Two stages: a venv made in BUILD_BASE from pinned wheels, then only that venv
# copied into BASE. It runs as the chart's non-root user (65532) with a read-only
# root filesystem: nothing is written at run time (bytecode is compiled here) and
# no shell is needed (exec-form entrypoint).
# BASE: an official slim Python image by default. `make image` builds on a base
# made from Debian's packages instead (image/base.py): BASE without a shell or pip,
# BUILD_BASE with them, both with the same interpreter at the same paths.
ARG BASE=python:3.11-slim
ARG BUILD_BASE=${BASE}

FROM ${BUILD_BASE} AS build
ARG SOURCE_DATE_EPOCH
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_CONSTRAINT=/src/image/constraints.txt
WORKDIR /src
COPY pyproject.toml README.md ./
COPY image/constraints.txt image/
# pyproject.toml's runtime dependencies alone first: a layer that code changes keep.
# kubernetes (37+) carries an asyncio twin of its client (kubernetes/aio, 41 MB of
# source) and, for it alone, aiohttp and its dependencies; orch uses the sync client
# only, so both go (tests/image checks that nothing else is missing or left).
RUN python3 -m venv --without-pip /opt/orch \
 && python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > /tmp/requirements.txt \
 && python3 -m pip --python /opt/orch/bin/python3 install --no-cache-dir --no-compile -r /tmp/requirements.txt \
 && python3 -m pip --python /opt/orch/bin/python3 uninstall --yes aiohttp aiohttp-retry \
      aiohappyeyeballs aiosignal attrs frozenlist multidict propcache yarl \
 && rm -rf /opt/orch/lib/python3*/site-packages/kubernetes/aio
COPY orchapi ./orchapi
COPY compiler ./compiler
COPY controller ./controller
COPY operate ./operate
# unchecked-hash bytecode: no source mtime inside, valid whatever the layer's mtimes.
RUN python3 -m pip --python /opt/orch/bin/python3 install --no-cache-dir --no-compile --no-deps . \
 && python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/orch/lib

FROM ${BASE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="orch" \
      org.opencontainers.image.description="Runs Orchestration resources (orchestration.proompteng.ai) as Argo Workflows" \
      org.opencontainers.image.source="https://github.com/proompteng/orch" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /opt/orch /opt/orch
ENV PATH=/opt/orch/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["orch"]
CMD ["controller"]
