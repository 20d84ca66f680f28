"""How driftgate reaches a Kubeflow Pipelines server: the official
``kfp.Client`` (v2beta1 API), configured by a :class:`KfpSettings` the CLI
builds from its flags and the environment (``settings_from_env``): the endpoint
(``--endpoint`` or ``KF_PIPELINES_ENDPOINT``, the kfp SDK's own variable), a
bearer token (``KFP_TOKEN``) or cookies (``KFP_COOKIES``, e.g. an auth-session
cookie behind Dex/oauth2-proxy), else, in a pod, the projected ServiceAccount
token KFP mounts for in-cluster clients; and the profile namespace of a
multi-user install (``DRIFTGATE_PROFILE_NAMESPACE``: not ``KFP_NAMESPACE``,
which the kfp CLI reads as the namespace KFP is installed in). Nothing secret
is written to a spec, a config or a log line. The calls: ``driftgate.app.kfp_runs``.
"""

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Mapping, Optional

from driftgate.core.errors import DriftgateError

EXPERIMENT = "driftgate"
ENDPOINT_ENV = "KF_PIPELINES_ENDPOINT"
PROFILE_NAMESPACE_ENV = "DRIFTGATE_PROFILE_NAMESPACE"
SA_TOKEN_ENV = "KF_PIPELINES_SA_TOKEN_PATH"  # kfp's own variable for the projected token
SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
REACH_TIMEOUT_S = 5.0


class KfpError(DriftgateError):
    """A Kubeflow Pipelines call cannot go on (one line for the CLI)."""


@dataclass(frozen=True)
class KfpSettings:
    endpoint: str
    token: Optional[str] = None
    cookies: Optional[str] = None
    profile_namespace: Optional[str] = None
    sa_token_path: Optional[str] = None  # used only when neither token nor cookies is set


def settings_from_env(endpoint: Optional[str], environ: Mapping[str, str], namespace: Optional[str] = None):
    """Settings from CLI values and ``environ`` (the only place they are read)."""
    endpoint = endpoint or environ.get(ENDPOINT_ENV)
    if not endpoint:
        raise KfpError(f"no Kubeflow Pipelines endpoint: pass --endpoint URL or set {ENDPOINT_ENV}")
    sa = environ.get(SA_TOKEN_ENV) or SA_TOKEN_PATH
    return KfpSettings(
        endpoint=endpoint.rstrip("/"),
        token=environ.get("KFP_TOKEN") or None,
        cookies=environ.get("KFP_COOKIES") or None,
        profile_namespace=namespace or environ.get(PROFILE_NAMESPACE_ENV) or None,
        sa_token_path=sa if os.path.isfile(sa) else None,
    )


def check_reachable(endpoint: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """Raises KfpError in one line when nothing answers HTTP at ``endpoint``
    (any HTTP status, even 401/403, means a server is there)."""
    url = f"{endpoint.rstrip('/')}/apis/v2beta1/healthz"
    try:
        urllib.request.urlopen(url, timeout=timeout).close()
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise KfpError(f"cannot reach Kubeflow Pipelines at {endpoint}: {reason}") from None


def make_client(settings: KfpSettings):
    """A ``kfp.Client`` for the settings, after checking the endpoint answers."""
    check_reachable(settings.endpoint)
    import kfp
    from kfp.client import ServiceAccountTokenVolumeCredentials

    credentials = None
    if not settings.token and not settings.cookies and settings.sa_token_path:
        credentials = ServiceAccountTokenVolumeCredentials(path=settings.sa_token_path)
    return kfp.Client(
        host=settings.endpoint,
        existing_token=settings.token,
        cookies=settings.cookies,
        credentials=credentials,
    )
