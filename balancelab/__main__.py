"""`python -m balancelab`."""

from balancelab.cli import main

raise SystemExit(main())
