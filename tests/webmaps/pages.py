"""Reading map pages back: the GeoJSON they embed and the files they link."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

CDN_WORDS = ("cdn", "unpkg", "jsdelivr", "cdnjs", "googleapis", "bootstrapcdn")


def layers(html: str) -> list[dict]:
    """Every FeatureCollection the page hands to Leaflet, in page order."""
    return [json.loads(m.group(1)) for m in re.finditer(r"\.addData\((.*)\);$", html, re.M)]


def parcel_features(html: str) -> list[dict]:
    """The parcel Features of a page (those with a ``code``)."""
    return [f for layer in layers(html) for f in layer["features"] if "code" in f["properties"]]


def parcel_codes(html: str) -> list[str]:
    return [f["properties"]["code"] for f in parcel_features(html)]


def linked_urls(html: str) -> list[str]:
    """``src`` of scripts and ``href`` of stylesheets and icons."""
    return re.findall(r'<script[^>]*\bsrc="([^"]+)"', html) + re.findall(
        r'<link[^>]*\bhref="([^"]+)"', html)


def external_urls(html: str) -> list[str]:
    """Anything in the page that names a CDN or an absolute http(s) resource."""
    found = [u for u in linked_urls(html) if not u.startswith(("/", "data:"))]
    lowered = html.lower()
    found += [word for word in CDN_WORDS if word in lowered]
    return found


def offline(browser, server: str):
    """A new page whose every request to another host is refused; the requests made and the
    page's errors are kept for the assertions' messages."""
    host = urlsplit(server).netloc
    requests, problems = [], []
    browser.on("request", lambda r: requests.append(r.url))
    browser.route("**/*", lambda route: route.continue_()
                  if urlsplit(route.request.url).netloc == host else route.abort())
    page = browser.new_page()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    return page, host, requests, problems
