"""Which ``kcat`` the launcher runs: Debian's, never itself."""

from __future__ import annotations

import os
from pathlib import Path

from merchstore.tools.kcat import system_kcat


def test_the_real_kcat_is_found_and_never_this_command_itself(tmp_path: Path) -> None:
    own = tmp_path / "venv" / "kcat"
    real = tmp_path / "debian" / "kcat"
    for path in (own, real):
        path.parent.mkdir()
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    assert system_kcat(str(own), str(own.parent)) is None
    assert system_kcat(str(own), os.pathsep.join([str(own.parent), str(real.parent)])) == str(real)
