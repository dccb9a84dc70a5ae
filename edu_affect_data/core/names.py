"""One rule for turning a name from a corpus into a file or folder name: `path_part`.

Recording, speaker and session ids come from corpus files and folder names (a MOSEI video id is a
file stem, a speaker id may come from a user's CSV), so they can be `..`, `.`, hold a slash or a
NUL byte, or start with a dot. Joined into a path as they are, `manifest/video/..` is the build's
`manifest/` itself. The choice made here is to **encode, never reject**: every name, however odd,
still gets its own place, so no recording is lost for its name, and the tables keep the original
id (only paths are encoded).

The encoding is percent-encoding (RFC 3986 style, UTF-8 bytes as `%XX`) of every character outside
`A-Za-z0-9_.:-`, plus a leading dot (`..` -> `%2E.`, `.hidden` -> `%2Ehidden`): injective (two ids
never share a path; `%` itself is encoded) and reversible with `urllib.parse.unquote`. Names made
only of those characters and not starting with a dot, which is every IEMOCAP and MOSEI id and
every session id the pipeline makes, are left exactly as they are. The colon stays because session
ids (`corpus:recording:speaker:NNN`) already name annotation clips that Label Studio tasks refer
to. A name whose encoding would exceed `MAX_PART` characters keeps its first part and ends in a
digest of the whole name, so it stays unique and below file-system limits (that one is not
reversible from the path alone; the tables hold the id).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

#: Longest encoded name kept whole: room for a suffix such as `--<digest>.parquet` under the
#: 255-byte limit of common file systems.
MAX_PART = 160
_KEPT = "_.:-"  # besides ASCII letters and digits
_PLAIN = re.compile(r"[A-Za-z0-9_.:\-]+")


def path_part(name: str) -> str:
    """`name` as one safe path component (see the module docstring); an empty name is a `ValueError`."""
    if not name:
        raise ValueError("an empty name cannot be a file name")
    if _PLAIN.fullmatch(name) and not name.startswith("."):
        encoded = name
    else:
        encoded = quote(name, safe=_KEPT, errors="surrogatepass")
        if encoded.startswith("."):
            encoded = "%2E" + encoded[1:]
    if len(encoded) <= MAX_PART:
        return encoded
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{encoded[: MAX_PART - 18]}~{digest}"
