"""Size of the `sam build` artifact as Lambda receives it: zipped (in memory), like `sam deploy` uploads it."""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build" / "PaymentsFunction"


def measure(build: Path = BUILD) -> dict[str, Any]:
    if not build.is_dir():
        return {"built": False, "note": f"not built ({build.relative_to(ROOT)} missing; run `make build`)"}
    buffer = io.BytesIO()
    unzipped: Counter[str] = Counter()
    files = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in build.rglob("*") if p.is_file()):
            relative = path.relative_to(build)
            archive.write(path, relative.as_posix())
            unzipped[relative.parts[0].split("-")[0]] += path.stat().st_size
            files += 1
    return {
        "built": True,
        "zip_bytes": buffer.getbuffer().nbytes,
        "unzipped_bytes": sum(unzipped.values()),
        "files": files,
        "largest": [(name, size) for name, size in unzipped.most_common(6)],
        "pyc_files": sum(1 for _ in build.rglob("*.pyc")),
    }
