"""``python -m skfast.bench``: see :mod:`skfast.bench`."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
