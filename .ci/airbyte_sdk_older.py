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

from airbyte_agent_asana import AsanaConnector  # noqa: E402
from airbyte_agent_asana._vendored.connector_sdk.cloud_utils.client import (  # noqa: E402
    AirbyteCloudClient,
)

from client_support import (  # noqa: E402
    ME,
    TASK,
    WORKSPACE,
    Checks,
    application_token,
    field,
    token_connector,
)

AirbyteCloudClient.AUTH_BASE_URL = url
AirbyteCloudClient.API_BASE_URL = url
check = Checks("airbyte-sdk 0.19.34")


async def main():
    token = await application_token(url, client_id, client_secret)
    made = await token_connector(url, token, "older-customer", asana_token)
    check("a connector for the customer", made)

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
    check.report()


asyncio.run(main())
