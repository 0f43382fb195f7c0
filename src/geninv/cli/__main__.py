"""``python -m geninv.cli``: the ``geninv`` program."""

import sys

from geninv.cli import main

sys.exit(main())
