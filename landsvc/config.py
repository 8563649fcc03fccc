"""Settings, read from the environment with the ``LANDSVC_`` prefix."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANDSVC_", env_file=".env", extra="ignore")

    database_url: str | None = None
    """A PostgreSQL server with PostGIS; unset means the embedded cluster under ``home``."""
    home: Path = Path(".landsvc")
    """Data directory of the embedded cluster."""
    max_upload_mib: int = 200
    max_unzipped_mib: int = 1024
    """A zipped Shapefile may unpack to at most this much; checked before unpacking."""
    log_level: str = "INFO"
    log_json: bool = True
    geodata_dir: Path = REPO_ROOT / "geodata"


@lru_cache
def get_settings() -> Settings:
    return Settings()
