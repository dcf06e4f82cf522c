# 双助推行动平台 — slim image, non-root, migrates then serves.
# Set DATABASE_URL (postgresql+psycopg://…) and SZT_SECRET_KEY; SZT_ENV=prod refuses the dev secret.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SZT_ENV=prod SZT_HOST=0.0.0.0 SZT_FORWARDED_ALLOW_IPS=127.0.0.1

RUN useradd --create-home --uid 10001 app
WORKDIR /srv/app

COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
# Editable: the code stays in /srv/app next to templates/, static/ and migrations/.
RUN pip install -c constraints.txt -e .

COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN mkdir -p /srv/app/data && chown app:app /srv/app/data

USER app
EXPOSE 8000
# Ready = database reachable, schema at this code's head, disk space, job worker alive (app/ops/health.py).
# The slim image has no curl: Python asks; a 503 or no answer raises, and the exit code is 1.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=8)"]
# Behind a reverse proxy, set SZT_FORWARDED_ALLOW_IPS to its address(es): only its X-Forwarded-* are believed.
# `serve` migrates, then runs uvicorn with those proxy settings and the logs of app/ops/logs.py
# (JSON lines with a request id outside SZT_ENV=dev), uvicorn's own access log off.
CMD ["python", "-m", "app", "serve", "--no-demo"]
