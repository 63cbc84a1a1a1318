"""Stylesheets and scripts, gzipped once per file version instead of on every request.

Starlette's GZipMiddleware compressed each response as it went out: the 1.7 MB API-docs bundle
cost about 50 ms of CPU per request. Here a compressible file is gzipped the first time it is
asked for (in a thread) and kept in memory, keyed by its path, size and modification time, so
an edited file is compressed again. Pages are not served here and never compressed (BREACH:
see pulsecrm.app).
"""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
MINIMUM_SIZE = 1024  # below this, gzip's header and the work cost more than they save
_KEPT = ("content-type", "etag", "last-modified", "cache-control")


class PrecompressedStatic(StaticFiles):
    def __init__(self, *, directory: Path) -> None:
        super().__init__(directory=directory)
        self._packed: dict[str, tuple[tuple[int, int], bytes]] = {}  # path -> (version, gzip)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not isinstance(response, FileResponse) or response.status_code != 200:
            return response
        response.headers["vary"] = "Accept-Encoding"
        request = Headers(scope=scope)
        stat = response.stat_result
        if (
            stat is None
            or stat.st_size < MINIMUM_SIZE
            or "range" in request  # a byte range is served from the file as it is
            or "gzip" not in request.get("accept-encoding", "").lower()
            or not response.media_type
            or not response.media_type.startswith(COMPRESSIBLE)
        ):
            return response
        version = (stat.st_size, stat.st_mtime_ns)
        kept = self._packed.get(str(response.path))
        if kept is not None and kept[0] == version:
            packed = kept[1]
        else:
            packed = await asyncio.to_thread(_gzip, Path(response.path))
            self._packed[str(response.path)] = (version, packed)
        headers = {name: response.headers[name] for name in _KEPT if name in response.headers}
        return Response(packed, headers=headers | {"content-encoding": "gzip", "vary": "Accept-Encoding"})


def _gzip(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
