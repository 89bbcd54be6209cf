"""``python -m pinssl``: the same as the ``pinssl`` command."""

from pinssl._cli import main

raise SystemExit(main())
