"""Fetch the front-end files the web app serves, from the npm registry, and pin them.

Run with the machine's npm: `python scripts/vendor_assets.py` downloads each package with
`npm pack`, copies the files the app uses into src/pulsecrm/web/static/vendor/, and checks
them against CHECKSUMS (sha256). `--update` rewrites CHECKSUMS after a deliberate version
bump. The app itself never needs Node: the vendored files are committed.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src" / "pulsecrm" / "web" / "static" / "vendor"
CHECKSUMS = VENDOR / "CHECKSUMS"

# package@version -> {file inside the tarball: name under vendor/}
PACKAGES = {
    "htmx.org@2.0.11": {"package/dist/htmx.min.js": "htmx.min.js"},
    "@picocss/pico@2.1.1": {"package/css/pico.min.css": "pico.min.css"},
    "swagger-ui-dist@5.35.0": {
        "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
        "package/swagger-ui.css": "swagger-ui.css",
    },
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="record new checksums instead of checking")
    args = parser.parse_args()
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for spec, files in PACKAGES.items():
            out = subprocess.run(
                ["npm", "pack", spec, "--silent", "--pack-destination", tmp],
                check=True,
                capture_output=True,
                text=True,
            )
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                for member, name in files.items():
                    source = tar.extractfile(member)
                    if source is None:
                        raise SystemExit(f"{spec}: {member} is not a file")
                    (VENDOR / name).write_bytes(source.read())
    recorded = {}
    if CHECKSUMS.exists():
        for line in CHECKSUMS.read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            recorded[name] = digest
    names = sorted(name for files in PACKAGES.values() for name in files.values())
    actual = {name: sha256(VENDOR / name) for name in names}
    if args.update:
        CHECKSUMS.write_text("".join(f"{actual[n]}  {n}\n" for n in names))
        print(f"recorded {len(names)} checksums")
        return 0
    bad = [n for n in names if recorded.get(n) != actual[n]]
    for name in bad:
        print(f"checksum mismatch: {name}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
