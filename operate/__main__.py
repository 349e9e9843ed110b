"""`python -m operate`: the same as `orch`."""

import sys

from operate.main import main

sys.exit(main())
