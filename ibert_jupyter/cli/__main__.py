"""``python -m ibert_jupyter.cli``: the same as the ``ibert`` console script."""

import sys

from ibert_jupyter.cli import main

sys.exit(main())
