"""`python -m tests.chart`: the chart validation command (see tests/chart/validate.py)."""

import sys

from tests.chart.validate import main

sys.exit(main())
