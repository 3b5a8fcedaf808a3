"""``python -m tests.stress``: the durability runs with their figures (see durability.py)."""

from tests.stress.durability import main

raise SystemExit(main())
