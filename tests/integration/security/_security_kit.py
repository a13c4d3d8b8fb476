"""The users file of the security tests, shared by their conftest and ``test_minimal_role``."""

from __future__ import annotations

from typing import Any

#: The README's "Security" role for the autoscaler, as an ES role descriptor.
AUTOSCALER_ROLE: dict[str, Any] = {
    "cluster": ["manage"],
    "indices": [
        {
            "names": ["*"],
            "privileges": ["monitor", "view_index_metadata"],
            "allow_restricted_indices": True,
        }
    ],
}

USERS: dict[str, Any] = {
    "roles": {
        "es_autoscaler": AUTOSCALER_ROLE,
        "monitor_only": {"cluster": ["monitor"]},
        "cluster_manager": {"cluster": ["manage"]},
        "key_maker": {"cluster": ["manage_own_api_key"]},
        "nothing": {"cluster": []},
    },
    "users": {
        "autoscaler": {"password": "autoscaler-pw", "roles": ["es_autoscaler"]},
        "watcher": {"password": "watcher-pw", "roles": ["monitor_only"]},
        "manager": {"password": "manager-pw", "roles": ["cluster_manager"]},
        "keys": {"password": "keys-pw", "roles": ["key_maker", "monitor_only"]},
        "nobody": {"password": "nobody-pw", "roles": ["nothing", "ghost_role"]},
    },
}
