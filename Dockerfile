# Theo RTC runtime image, for docker-compose.yml (theo-serve, theo-agent).
# scripts/setup does what it does on a machine: Debian's espeak-ng, .venv/, Theo with its default
# plugins and the [itn,livekit] extras. Models are pulled at run time into $THEO_HOME (a volume).
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN scripts/setup && rm -rf /root/.cache/pip
ENV PATH=/app/.venv/bin:$PATH \
    THEO_HOME=/data/theo
CMD ["theo", "serve", "--host", "127.0.0.1", "--port", "8000"]
