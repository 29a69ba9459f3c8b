"""``python -m pipeline.cli``: the ``facerot`` command."""

from . import main

raise SystemExit(main())
