"""Reads a PMTiles archive with the PyPI `pmtiles` package (protomaps' reference reader) and
writes what it found, for tests/archives.rs to compare with tilecast's directory output.

    python3 tests/oracle/pmtiles_read.py ARCHIVE OUTDIR

Writes OUTDIR/archive.json: {"header": {...}, "metadata": {...}, "tiles": ["z/x/y", ...],
"offsets_in_order": bool, "error": null | "..."}, and every tile as OUTDIR/z/x/y.png.
`offsets_in_order` says whether every tile's data starts at or after the end of the
previous tile's, or at a lesser offset it already used (a clustered archive, spec 3.2).
Exits 0 even for a bad archive: the error is in the JSON.
"""

import json
import os
import sys

from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import deserialize_directory


def entries(get_bytes, header, offset, length):
    for e in deserialize_directory(get_bytes(offset, length)):
        if e.run_length == 0:
            yield from entries(
                get_bytes, header, header["leaf_directory_offset"] + e.offset, e.length
            )
        else:
            yield e


def main(path, outdir):
    os.makedirs(outdir, exist_ok=True)
    out = {"header": None, "metadata": None, "tiles": [], "offsets_in_order": None, "error": None}
    try:
        with open(path, "rb") as f:
            get_bytes = MmapSource(f)
            reader = Reader(get_bytes)
            header = reader.header()
            out["header"] = {
                k: (v.name.lower() if hasattr(v, "name") else v) for k, v in header.items()
            }
            out["metadata"] = reader.metadata()
            count = header["addressed_tiles_count"]
            for i, ((z, x, y), data) in enumerate(all_tiles(get_bytes)):
                name = f"{z}/{x}/{y}"
                out["tiles"].append(name)
                os.makedirs(os.path.join(outdir, str(z), str(x)), exist_ok=True)
                with open(os.path.join(outdir, name + ".png"), "wb") as t:
                    t.write(data)
                # The reader's own lookup (root, then leaf) finds the same bytes; for at
                # most about 1000 tiles, as each lookup inflates its directories again.
                if i % max(1, count // 1000) == 0 and reader.get(z, x, y) != data:
                    raise ValueError(f"get({name}) differs from the traversal")
            seen_end, used, ordered = 0, set(), True
            for e in entries(get_bytes, header, header["root_offset"], header["root_length"]):
                if e.offset == seen_end:
                    seen_end = e.offset + e.length
                elif e.offset not in used:
                    ordered = False
                used.add(e.offset)
            out["offsets_in_order"] = ordered
    except Exception as e:  # a bad archive is a result, not a traceback
        out["error"] = f"{type(e).__name__}: {e}"
    with open(os.path.join(outdir, "archive.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
