"""``python -m sqlstream``: the same as the ``sqlstream`` command."""

from sqlstream.entry import command

command()
