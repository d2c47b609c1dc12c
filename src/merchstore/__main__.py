"""``python -m merchstore``: the same as the ``merchstore`` command."""

from merchstore.cli import main

main(prog_name="merchstore")  # the name users type, also under `python -m merchstore`
