"""``python -m ssbmoney.demo``: make a demo member's home from the shipped feeds."""

import sys

from ssbmoney.demo.generate import main

sys.exit(main())
