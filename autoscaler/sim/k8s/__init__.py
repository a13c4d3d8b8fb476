"""The Kubernetes half of the twin, one concept per module (see ``model.py`` and ``api.py``)."""
