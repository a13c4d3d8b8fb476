"""``python -m autoscaler`` runs the same CLI as the ``es-autoscaler`` console script."""

import sys

from autoscaler.cli import main

sys.exit(main())
