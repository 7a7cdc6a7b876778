"""``python -m ssbmoney``: the same as the ``ssbmoney`` command."""

import sys

from ssbmoney.launcher import main

sys.exit(main())
