"""Airbyte's Asana agent connector 0.19.34 (PyPI `airbyte-agent-asana`; the newest release
that declares Python 3.11, so what pip installs on Python below 3.13) in hosted mode against
`integrations serve`. Its client has no switch for its hosts: they are the class attributes
`AUTH_BASE_URL` and `API_BASE_URL`, set here to the service's URL. Run by `.ci/clients`.

It creates a customer's connector through the service's REST API (this version cannot), then,
through the SDK alone (its token path, its lookup of the customer's connector and its execute
path): a user, the workspaces, a task.

Usage: airbyte_sdk_older.py URL CLIENT_ID CLIENT_SECRET ASANA_TOKEN ...
"""

import asyncio
import os
import sys

url, client_id, client_secret, asana_token = sys.argv[1:5]
os.environ["AIRBYTE_TELEMETRY_MODE"] = "disabled"

import httpx  # noqa: E402
from airbyte_agent_asana import AsanaConnector  # noqa: E402
from airbyte_agent_asana._vendored.connector_sdk.cloud_utils.client import (  # noqa: E402
    AirbyteCloudClient,
)

AirbyteCloudClient.AUTH_BASE_URL = url
AirbyteCloudClient.API_BASE_URL = url

ME = "4673218951"
WORKSPACE = "1201000000000101"
TASK = "1201000000000601"
checks = 0


def field(record, name):
    """A field of a record this version gives as a dict or as a model."""
    return record[name] if isinstance(record, dict) else getattr(record, name)


def check(what, condition):
    global checks
    if not condition:
        raise SystemExit(f"airbyte-sdk 0.19.34: FAILED: {what}")
    checks += 1


async def main():
    async with httpx.AsyncClient(base_url=url) as rest:
        answer = await rest.post(
            "/api/v1/account/applications/token",
            json={"client_id": client_id, "client_secret": client_secret},
        )
        token = answer.json()["access_token"]
        answer = await rest.post(
            "/api/v1/integrations/connectors",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "customer_name": "older-customer",
                "connector_type": "asana",
                "credentials": {"token": asana_token},
            },
        )
        check("a connector for the customer", answer.status_code == 201)

    sdk = AsanaConnector(
        external_user_id="older-customer",
        airbyte_client_id=client_id,
        airbyte_client_secret=client_secret,
    )
    me = await sdk.users.get(user_gid="me")
    check("users.get(me)", field(me.data, "gid") == ME)
    workspaces = await sdk.workspaces.list()
    check("workspaces.list", WORKSPACE in [field(w, "gid") for w in workspaces.data])
    task = await sdk.tasks.get(task_gid=TASK)
    check("tasks.get", field(task.data, "name") == "Draft announcement")
    print(f"airbyte-sdk 0.19.34: {checks} checks passed")


asyncio.run(main())
