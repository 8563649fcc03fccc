"""Self-hosted JavaScript and CSS for the map pages.

folium links its pages to about eleven files on public CDNs; where those are unreachable the
page stays blank. The pages here link only what they use (Leaflet), from our own server:
``scripts/assets`` fetches the files listed in ``maps/vendor.txt`` from the npm registry into
``maps/vendor/`` and the application serves that folder at :data:`ASSETS_URL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import folium

MANIFEST = Path(__file__).with_name("vendor.txt")
"""Packages, versions, integrity hashes and paths, one package a line."""

ASSETS_DIR = Path(__file__).with_name("vendor")
"""Where ``scripts/assets`` puts the files (git-ignored)."""

ASSETS_URL = "/maps/assets"
"""Where the application serves :data:`ASSETS_DIR`."""


@dataclass(frozen=True)
class VendorPackage:
    """One npm package of the manifest."""

    name: str
    version: str
    integrity: str
    paths: tuple[str, ...]


@cache
def vendor_packages(manifest: Path = MANIFEST) -> tuple[VendorPackage, ...]:
    """The packages listed in the manifest.

    Parameters
    ----------
    manifest : Path
        A file of lines ``name version integrity path...``; ``#`` starts a comment line.

    Returns
    -------
    tuple of VendorPackage
        In file order, which is the order the pages load them in.
    """
    packages = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, version, integrity, *paths = line.split()
        packages.append(VendorPackage(name, version, integrity, tuple(paths)))
    return tuple(packages)


def _links(suffix: str, assets_url: str) -> list[tuple[str, str]]:
    return [
        (f"{package.name}:{path}", f"{assets_url}/{package.name}/{path}")
        for package in vendor_packages()
        for path in package.paths
        if path.endswith(suffix)
    ]


def script_links(assets_url: str = ASSETS_URL) -> list[tuple[str, str]]:
    """``(name, url)`` of every JavaScript file a page loads, under ``assets_url``."""
    return _links(".js", assets_url)


def stylesheet_links(assets_url: str = ASSETS_URL) -> list[tuple[str, str]]:
    """``(name, url)`` of every stylesheet a page loads, under ``assets_url``."""
    return _links(".css", assets_url)


def missing_assets(assets_dir: Path = ASSETS_DIR) -> list[str]:
    """Manifest paths that are not on disk (empty when ``scripts/assets`` has run).

    Parameters
    ----------
    assets_dir : Path
        The folder the application serves.

    Returns
    -------
    list of str
        ``package/path`` for each file or folder that is missing.
    """
    return [
        f"{package.name}/{path}"
        for package in vendor_packages()
        for path in package.paths
        if not (assets_dir / package.name / path).exists()
    ]


class OfflineMap(folium.Map):
    """A :class:`folium.Map` that links only Leaflet, from our own server.

    folium's own list (jQuery, Bootstrap, Font Awesome, awesome-markers …) serves markers and
    plugins these pages do not use; leaving it out keeps every request on our host.

    Parameters
    ----------
    assets_url : str
        URL path under which :data:`ASSETS_DIR` is served.
    **kwargs
        Passed to :class:`folium.Map`.
    """

    def __init__(self, *, assets_url: str = ASSETS_URL, **kwargs):
        super().__init__(**kwargs)
        # Instance attributes: folium's class-level lists stay untouched for other users.
        self.default_js = script_links(assets_url)
        self.default_css = stylesheet_links(assets_url)
