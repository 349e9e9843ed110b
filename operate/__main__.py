"""`python -m operate`: the same as `orch`."""

import sys

from operate.cli import main

sys.exit(main())
