"""``python -m readyfloor_agent``: the same commands as ``readyfloor-agent``."""

from .cli import main

raise SystemExit(main())
