"""`python -m controller`: the same as `orch controller`."""

import sys

from controller.main import main

sys.exit(main())
