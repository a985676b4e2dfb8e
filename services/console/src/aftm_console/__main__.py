"""`python -m aftm_console`: the same as the `aftm` command."""

from aftm_console.cli import main

raise SystemExit(main())
