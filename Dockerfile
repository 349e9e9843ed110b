# The orch controller image (`orch controller`), also usable as the CLI.
# Multi-stage: build a wheel with its dependencies, then copy only the installed
# environment into a slim runtime that runs as a non-root user with a read-only
# root filesystem (nothing is written at runtime; bytecode is compiled at build).
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/orch
ENV PATH=/opt/orch/bin:$PATH
COPY pyproject.toml README.md ./
COPY compiler ./compiler
COPY controller ./controller
RUN pip install --no-cache-dir . && python -m compileall -q /opt/orch

FROM python:3.11-slim
COPY --from=build /opt/orch /opt/orch
ENV PATH=/opt/orch/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["orch"]
CMD ["controller"]
