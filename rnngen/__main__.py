"""`python -m rnngen` is the same as the `rnngen` command."""

from rnngen.entry import main

raise SystemExit(main())
