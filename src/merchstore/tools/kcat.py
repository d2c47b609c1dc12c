"""``kcat`` that reads every broker merchstore runs on, the embedded one included.

Debian bookworm's kcat 1.7.1 runs on Debian's librdkafka 2.0.2, which misreads the
ApiVersions reply of the embedded broker (the tagged fields at its end) and gives up with
"ApiVersionRequest failed: Local: Read underflow". The confluent-kafka wheel this project
depends on carries a newer librdkafka with the same ABI (``librdkafka.so.1``). Installed as
``.venv/bin/kcat``, this command runs Debian's kcat on that library, so the classic
``kcat -C -b localhost:9092 -t events -o beginning -e`` works as typed against any broker.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

LIBRARY_NAME = "librdkafka.so.1"
"""The soname Debian's kcat is linked against."""


def system_kcat(own_path: str, search_path: str | None = None) -> str | None:
    """The real kcat on ``search_path`` (``PATH`` and ``/usr/bin``), never this command itself."""
    own = os.path.realpath(own_path)
    if search_path is None:
        search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin"])
    for directory in search_path.split(os.pathsep):
        candidate = shutil.which("kcat", path=directory)
        if candidate and os.path.realpath(candidate) != own:
            return candidate
    return None


def bundled_librdkafka() -> Path | None:
    """The librdkafka the confluent-kafka wheel ships, or ``None`` if it uses the system's."""
    import confluent_kafka

    libraries = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    found = sorted(libraries.glob("librdkafka*.so*"))
    return found[0] if found else None


def library_directory(library: Path, under: Path) -> Path:
    """A directory where ``librdkafka.so.1`` is ``library`` (made once, atomically)."""
    directory = under / "merchstore-kcat"
    link = directory / LIBRARY_NAME
    if not (link.exists() and link.resolve() == library.resolve()):
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f".{LIBRARY_NAME}.{os.getpid()}"
        staging.unlink(missing_ok=True)
        staging.symlink_to(library)
        os.replace(staging, link)  # two kcats starting together both end with a good link
    return directory


def main() -> None:
    """Replace this process with Debian's kcat on the newer librdkafka, same arguments."""
    kcat = system_kcat(sys.argv[0])
    if kcat is None:
        print(
            "kcat is not installed: apt-get install kcat (make install does it as root)",
            file=sys.stderr,
        )
        raise SystemExit(1)
    environment = dict(os.environ)
    library = bundled_librdkafka()
    if library is not None:
        directory = library_directory(library, Path(sys.prefix) / "lib")
        # The bundled library finds its own dependencies next to it, by their hashed names.
        search = [str(directory), str(library.parent), environment.get("LD_LIBRARY_PATH", "")]
        environment["LD_LIBRARY_PATH"] = os.pathsep.join(part for part in search if part)
    os.execve(kcat, [kcat, *sys.argv[1:]], environment)
