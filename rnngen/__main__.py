"""`python -m rnngen` is the same as the `rnngen` command."""

from rnngen.cli import main

raise SystemExit(main())
