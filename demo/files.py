"""Files the page links to that Gradio does not serve: the Results tab's sample sheets.

Each table's ``results/<table>/samples/<row>.png`` (written by the bench's report) is served at
``sample-sheets/<table>/<row>.png`` under the page's address, and a copy at most :data:`SMALL` pixels wide at
``sample-sheets/<table>/small/<row>.webp`` (WebP at quality :data:`QUALITY`: about a tenth of the sheet's bytes;
made on first request, kept in memory), so that the Results tab can show every sheet small and load it only when
it scrolls into view (``loading="lazy"``), linked to the full one.
:class:`SampleSheets` is an ASGI middleware the app is launched with (:func:`demo.app.launch`); it answers only
for a PNG file that is in a table's ``samples/`` folder (a name of letters, digits, ``.``, ``_`` and ``-``), and
answers 404 for anything else under its route; every other request goes to the app.
"""
from __future__ import annotations

import functools
import io
import re
from pathlib import Path

from PIL import Image

ROUTE = "sample-sheets"  # the route's first segment (no slash: the tab links relative to the page)
SMALL = 480  # the small copy's width at most, in pixels (a phone's column, or a quarter of a desktop page)
QUALITY = 80  # the small copy's WebP quality
_NAME = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
_PATH = re.compile(rf"/{ROUTE}/({_NAME})/(?:({_NAME})\.png|small/({_NAME})\.webp)\Z")  # table, full | small


def sheet_url(table: str, name: str, small: bool = False) -> str:
    """The address of sheet ``name`` (``<row>.png``) relative to the page: ``sample-sheets/<table>/<row>.png``,
    or its small copy's, ``sample-sheets/<table>/small/<row>.webp``."""
    return f"{ROUTE}/{table}/small/{Path(name).stem}.webp" if small else f"{ROUTE}/{table}/{name}"


def small_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the small copy of a sheet of that size."""
    return (width, height) if width <= SMALL else (SMALL, round(height * SMALL / width))


@functools.lru_cache(maxsize=128)
def _small(path: Path, mtime: float) -> bytes:
    """``path`` at most :data:`SMALL` pixels wide, as WebP."""
    with Image.open(path) as im:
        small = im.convert("RGB").resize(small_size(im.width, im.height), Image.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "WEBP", quality=QUALITY)
    return buf.getvalue()


class SampleSheets:
    """ASGI middleware: ``GET``/``HEAD`` :data:`ROUTE` ``/<table>/<row>.png`` (or ``small/<row>.webp``) → that sheet of
    ``results/<table>/samples/``; anything else under the route is a 404; other paths go to the app."""

    def __init__(self, app, results: str | Path):
        self.app = app
        self.results = Path(results).resolve()

    def file(self, table: str, name: str) -> Path | None:
        """``results/<table>/samples/<name>`` when it is a file there (never outside that folder), else None."""
        path = (self.results / table / "samples" / name).resolve()
        return path if path.parent == self.results / table / "samples" and path.is_file() else None

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if not path.startswith(f"/{ROUTE}/") or scope.get("method") not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        m = _PATH.match(path)
        found = self.file(m.group(1), f"{m.group(2) or m.group(3)}.png") if m else None
        if found is None:
            return await _send(send, scope, 404, b"text/plain; charset=utf-8", b"No such sample sheet.")
        if m.group(3):
            return await _send(send, scope, 200, b"image/webp", _small(found, found.stat().st_mtime))
        await _send(send, scope, 200, b"image/png", found.read_bytes())


async def _send(send, scope, status: int, ctype: bytes, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"public, max-age=3600")]})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})
