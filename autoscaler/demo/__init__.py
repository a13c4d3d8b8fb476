"""``es-autoscaler demo``: the product's main job — watch a cluster, decide, scale, confirm after
the shards have moved — shown end to end in about a minute, with nothing to install but this
package.

The digital twin (``autoscaler.sim``) plays the Elasticsearch cluster and its Kubernetes
StatefulSet; the real service (``autoscaler.service.serve.Service``) runs against it on the
twin's simulated clock. ``data/`` ships the demo policy and load profile as package data (a
pip-installed user has no ``policies/`` folder). ``run`` composes them, ``view`` draws them,
``workload`` and ``rehearsal`` read ``--workload`` and ``--policy``, ``cli`` adds the command.
"""
