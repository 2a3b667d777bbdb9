"""What a link to the demo shows when it is shared: the page's Open Graph and Twitter tags.

Gradio's page template carries two sets of its own (``og:title`` "Gradio", ``og:url`` "{url}", Gradio's
header image, then an empty image and description), and its ``head=`` parameter is added by the page's
JavaScript, which link-preview crawlers do not run. So :class:`OpenGraph`, an ASGI middleware the app is
launched with (:func:`demo.app.launch`), rewrites every HTML page the server sends: it removes all of
Gradio's ``og:*`` and ``twitter:*`` tags and puts the demo's own first in ``<head>`` (with a ``<title>``
and a ``description``). It also serves the preview image, :data:`PREVIEW` (the README's screenshot of the
demo), at :data:`PREVIEW_ROUTE`. Crawlers need absolute URLs: the page's public address is
``https://$SPACE_HOST`` on a Hugging Face Space, else the one the request was made to (its
``X-Forwarded-*`` headers first, as a proxy sets them). When the image file is missing (a folder that
does not ship it), the tags leave the image out rather than point at nothing.

The same middleware sends that page gzip-compressed to a browser that accepts it (``Accept-Encoding: gzip``):
the page carries the app's whole configuration, text that shrinks several-fold (Gradio itself compresses
nothing). Every other response passes as it is.
"""
from __future__ import annotations

import gzip
import os
import re
from html import escape as esc
from pathlib import Path

TITLE = "Stacked GANs: StackGAN, SGAN and S²-GAN in PyTorch"
DESCRIPTION = ("Type a caption and see StackGAN draw it in two stages; sample SGAN, S²-GAN and the stacked-GAN "
               "study; read how the papers' ablation tables came out when rerun with several training seeds. "
               "Runs on a CPU, offline.")
PREVIEW = Path(__file__).resolve().parent.parent / "docs" / "demo.png"
PREVIEW_ALT = ("Screenshot of the demo's StackGAN tab: a caption, and the small Stage-I sketches and larger "
               "Stage-II images the model drew from it.")
PREVIEW_ROUTE = "/preview.png"

# Every Open Graph / Twitter <meta> of a page, however its attributes are laid out over lines.
_SOCIAL_META = re.compile(r"""<meta\s[^>]*?(?:property|name)\s*=\s*["'](?:og|twitter):[^>]*>\s*""", re.I)
_HEAD = re.compile(r"<head(?:\s[^>]*)?>", re.I)


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header; None if ``data`` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def tags(root: str, image: tuple[int, int] | None) -> str:
    """The demo's tags for a page whose public address is ``root`` (no trailing slash); ``image``: the
    preview's (width, height), or None to leave the image out."""
    meta = [("property", "og:type", "website"), ("property", "og:site_name", "Stacked GANs"),
            ("property", "og:title", TITLE), ("property", "og:description", DESCRIPTION),
            ("property", "og:url", root + "/"), ("name", "description", DESCRIPTION),
            ("name", "twitter:card", "summary_large_image" if image else "summary"),
            ("name", "twitter:title", TITLE), ("name", "twitter:description", DESCRIPTION)]
    if image:
        url = root + PREVIEW_ROUTE
        meta += [("property", "og:image", url), ("property", "og:image:type", "image/png"),
                 ("property", "og:image:width", str(image[0])), ("property", "og:image:height", str(image[1])),
                 ("property", "og:image:alt", PREVIEW_ALT), ("name", "twitter:image", url),
                 ("name", "twitter:image:alt", PREVIEW_ALT)]
    return (f"<title>{esc(TITLE)}</title>"
            + "".join(f'<meta {kind}="{key}" content="{esc(value)}" />' for kind, key, value in meta))


def rewrite(html: str, root: str, image: tuple[int, int] | None) -> str:
    """``html`` without any ``og:``/``twitter:`` tag (or title) in its head, and with the demo's first there.
    Only the head is touched (the body, with the app's config, is left as it is)."""
    m, end = _HEAD.search(html), html.lower().find("</head>")
    if not m or end < m.end():
        return html
    head = _SOCIAL_META.sub("", html[m.end():end])
    head = re.sub(r"<title\b[^>]*>.*?</title>\s*", "", head, flags=re.I | re.S)  # one title: ours
    return html[:m.end()] + tags(root, image) + head + html[end:]


def _header(scope, name: bytes) -> str:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return v.decode("latin-1").split(",")[0].strip()
    return ""


def public_root(scope) -> str:
    """The page's public address, without a trailing slash: ``https://$SPACE_HOST`` on a Space, else the
    host and scheme of the request (a proxy's ``X-Forwarded-Host`` / ``-Proto`` first), plus the root path."""
    root_path = scope.get("root_path", "").rstrip("/")
    if space := os.environ.get("SPACE_HOST", "").strip():
        return f"https://{space.split(',')[0].strip()}{root_path}"
    host = _header(scope, b"x-forwarded-host") or _header(scope, b"host")
    if not host and scope.get("server"):
        host = "%s:%s" % tuple(scope["server"])
    scheme = _header(scope, b"x-forwarded-proto") or scope.get("scheme", "http")
    return f"{scheme}://{host}{root_path}"


def accepts_gzip(scope) -> bool:
    """Whether the request's ``Accept-Encoding`` names gzip (and does not refuse it with ``q=0``)."""
    for k, v in scope.get("headers", ()):
        if k.lower() == b"accept-encoding":
            for part in v.decode("latin-1").lower().split(","):
                name, _, params = part.strip().partition(";")
                if name.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00"):
                    return True
    return False


class OpenGraph:
    """ASGI middleware: the demo's Open Graph tags in every HTML page (gzip-compressed when the browser accepts
    it), and the preview image at :data:`PREVIEW_ROUTE`. Other responses (the API, the queue's event streams,
    files) pass untouched."""

    def __init__(self, app, image: str | Path | None = PREVIEW):
        self.app = app
        try:
            self.image = Path(image).read_bytes() if image else None
        except OSError:
            self.image = None
        self.size = png_size(self.image) if self.image else None
        if self.size is None:
            self.image = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path):]
        if path == PREVIEW_ROUTE and self.image is not None and scope.get("method") in ("GET", "HEAD"):
            return await self._send_image(scope, send)
        if scope.get("method") != "GET":
            return await self.app(scope, receive, send)

        start = None
        chunks: list[bytes] = []

        async def rewrite_html(message):
            nonlocal start
            if message["type"] == "http.response.start":
                ctype = dict((k.lower(), v) for k, v in message.get("headers", ())).get(b"content-type", b"")
                if ctype.startswith(b"text/html"):
                    start = message  # hold it until the whole page is here
                    return
                return await send(message)
            if start is None or message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if b"gradio_config" in body:  # Gradio's app page (not some other HTML file it serves)
                try:
                    body = rewrite(body.decode("utf-8"), public_root(scope), self.size).encode("utf-8")
                except UnicodeDecodeError:
                    pass
            headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"]
            if accepts_gzip(scope) and not any(k.lower() == b"content-encoding" for k, _ in headers):
                body = gzip.compress(body, compresslevel=6)
                headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite_html)

    async def _send_image(self, scope, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"image/png"), (b"content-length", str(len(self.image)).encode()),
                                (b"cache-control", b"public, max-age=3600")]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.image})
