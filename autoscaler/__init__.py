"""es-autoscaler: keeps an Elasticsearch cluster at the right size, safely.

The package is layered (see DESIGN §3): ``core`` is the pure decision logic; ``signals``
bring observations in; ``targets`` act on the outside world; ``service`` runs it all;
``sim`` is the digital twin that tests and the demo run against.
"""

__version__ = "0.1.0"
