"""``python -m geninv``: the ``geninv`` program (as ``python -m geninv.cli``)."""

import sys

from geninv import guard  # standard library only, so it comes first

guard.exit_on_signals()  # the program: a signal while it loads ends it cleanly

from geninv.cli import main  # noqa: E402

sys.exit(main())
