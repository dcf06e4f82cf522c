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
# Behind a reverse proxy, set SZT_FORWARDED_ALLOW_IPS to its address(es): only its X-Forwarded-* are believed.
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.main:create_app --factory --host 0.0.0.0 --port 8000 --proxy-headers --forwarded-allow-ips \"$SZT_FORWARDED_ALLOW_IPS\""]
