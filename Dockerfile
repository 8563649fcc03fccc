FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY landsvc ./landsvc
COPY geodata ./geodata
RUN pip install --no-cache-dir -e .
ENV LANDSVC_GEODATA_DIR=/app/geodata
EXPOSE 8000
CMD ["sh", "-c", "landsvc db upgrade && landsvc geodata load && landsvc serve --host 0.0.0.0 --port 8000"]
