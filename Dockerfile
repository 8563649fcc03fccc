# The map pages' Leaflet files come from the npm registry, fetched and checked by scripts/assets.
FROM node:20-slim AS assets
WORKDIR /app
COPY scripts/assets scripts/assets
COPY maps/vendor.txt maps/vendor.txt
RUN scripts/assets

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY landsvc ./landsvc
COPY maps ./maps
COPY --from=assets /app/maps/vendor ./maps/vendor
COPY geodata ./geodata
RUN pip install --no-cache-dir -e .
ENV LANDSVC_GEODATA_DIR=/app/geodata
EXPOSE 8000
CMD ["sh", "-c", "landsvc db upgrade && landsvc geodata load && landsvc serve --host 0.0.0.0 --port 8000"]
