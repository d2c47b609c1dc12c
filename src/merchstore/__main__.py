"""``python -m merchstore``: the same as the ``merchstore`` command."""

from merchstore.cli import main

main()
