"""``python -m sqlstream``: the same as the ``sqlstream`` command."""

from sqlstream.cli import main

raise SystemExit(main())
