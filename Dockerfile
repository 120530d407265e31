# xoev-gateway container image: slim, non-root, the package installed from a wheel.
# Build:  docker build -t xoev-gateway .
# Run:    docker run -p 8080:8080 -v gateway-data:/data xoev-gateway
#         (mount a gateway.toml at /etc/gateway/gateway.toml and set GATEWAY_CONFIG to use it)

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY xsd ./xsd
COPY examples ./examples
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin gateway \
 && mkdir -p /data /etc/gateway && chown gateway /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER gateway
WORKDIR /data
ENV GATEWAY_DATA_DIR=/data \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)" || exit 1
CMD ["gateway", "serve", "--host", "0.0.0.0", "--port", "8080"]
