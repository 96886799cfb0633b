"""Airbyte's own Asana agent connector (PyPI `airbyte-agent-asana`) in hosted mode against
`integrations serve` over the offline Asana testkit: the SDK's own calls, unchanged, with its
API host pointed at the service (`SDK_DEV_ADP_API_HOST`, the SDK's switch for that). Run by
`.ci/clients`.

It creates a connector for a customer with a personal access token, calls it by its id and,
as an agent does, by its customer; calls every entity and action of the SDK's catalog (each
list and get, the attachment download) with the testkit's records checked; pages through a
list with the offset the SDK reads from its meta; gets the service's 404 for an unknown task;
and goes through a consent flow: the consent URL, the customer's way back through the
callback, then `create()` from the secret id, which gives the connector the callback made.

Usage: airbyte_sdk.py URL CLIENT_ID CLIENT_SECRET ASANA_TOKEN ...
"""

import asyncio
import base64
import os
import sys

url, client_id, client_secret, asana_token = sys.argv[1:5]
os.environ["SDK_DEV_ADP_API_HOST"] = url
os.environ["AIRBYTE_TELEMETRY_MODE"] = "disabled"

import httpx  # noqa: E402
from airbyte_agent_asana import AirbyteAuthConfig, AsanaConnector  # noqa: E402
from airbyte_agent_asana.models import AsanaPersonalAccessTokenAuthConfig  # noqa: E402
from client_support import ME, TASK, WORKSPACE, Checks, field  # noqa: E402

# More of the testkit's seed (provider-asana-testkit/src/seed.rs).
TEAM = "1201000000000201"
PROJECT = "1201000000000302"
SECTION = "1201000000000404"
TAG = "1201000000000501"
ATTACHMENT = "1201000000000801"

check = Checks("airbyte-sdk")


def gids(result):
    return [field(record, "gid") for record in result.data]


async def main():
    hosted = AirbyteAuthConfig(
        customer_name="customer-1",
        airbyte_client_id=client_id,
        airbyte_client_secret=client_secret,
    )
    created = await AsanaConnector.create(
        airbyte_config=hosted,
        auth_config=AsanaPersonalAccessTokenAuthConfig(token=asana_token),
    )
    check("create() returns the new connector's id", bool(created.connector_id))
    by_id = AsanaConnector(
        auth_config=AirbyteAuthConfig(
            connector_id=created.connector_id,
            airbyte_client_id=client_id,
            airbyte_client_secret=client_secret,
        )
    )
    # Every other call finds the connector by its customer, as an agent does.
    sdk = AsanaConnector(auth_config=hosted)

    me = await by_id.users.get(user_gid="me")
    check("users.get(me) by connector id", me["gid"] == ME and me["name"] == "Greg Sanchez")
    health = await sdk.check()
    check("check() is healthy", health.status == "healthy" and health.error is None)

    workspaces = await sdk.workspaces.list()
    check("workspaces.list", WORKSPACE in gids(workspaces))
    check("workspaces.get", (await sdk.workspaces.get(workspace_gid=WORKSPACE))["gid"] == WORKSPACE)
    check("users.list", ME in gids(await sdk.users.list(workspace=WORKSPACE)))
    check("workspace_users.list", ME in gids(await sdk.workspace_users.list(workspace_gid=WORKSPACE)))
    check("team_users.list", len(gids(await sdk.team_users.list(team_gid=TEAM))) > 0)
    check("teams.get", (await sdk.teams.get(team_gid=TEAM))["gid"] == TEAM)
    check("workspace_teams.list", TEAM in gids(await sdk.workspace_teams.list(workspace_gid=WORKSPACE)))
    check("user_teams.list", TEAM in gids(await sdk.user_teams.list(user_gid="me", organization=WORKSPACE)))
    check("projects.list", PROJECT in gids(await sdk.projects.list(workspace=WORKSPACE)))
    check("projects.get", (await sdk.projects.get(project_gid=PROJECT))["gid"] == PROJECT)
    check("workspace_projects.list", PROJECT in gids(await sdk.workspace_projects.list(workspace_gid=WORKSPACE)))
    check("team_projects.list", len(gids(await sdk.team_projects.list(team_gid=TEAM))) > 0)
    check("project_tasks.list", TASK in gids(await sdk.project_tasks.list(project_gid=PROJECT)))
    check("tasks.list", TASK in gids(await sdk.tasks.list(project=PROJECT)))
    task = await sdk.tasks.get(task_gid=TASK)
    check("tasks.get", task["gid"] == TASK and task["name"] == "Draft announcement")
    check("task_projects.list", PROJECT in gids(await sdk.task_projects.list(task_gid=TASK)))
    check("task_subtasks.list", len(gids(await sdk.task_subtasks.list(task_gid=TASK))) == 2)
    await sdk.task_dependencies.list(task_gid=TASK)
    await sdk.task_dependents.list(task_gid=TASK)
    check("project_sections.list", SECTION in gids(await sdk.project_sections.list(project_gid=PROJECT)))
    check("sections.get", (await sdk.sections.get(section_gid=SECTION))["gid"] == SECTION)
    check("workspace_tags.list", TAG in gids(await sdk.workspace_tags.list(workspace_gid=WORKSPACE)))
    check("tags.get", (await sdk.tags.get(tag_gid=TAG))["gid"] == TAG)
    check("attachments.list", ATTACHMENT in gids(await sdk.attachments.list(parent=TASK)))
    check("attachments.get", (await sdk.attachments.get(attachment_gid=ATTACHMENT))["gid"] == ATTACHMENT)
    search = await sdk.workspace_task_search.list(workspace_gid=WORKSPACE, text="Draft")
    check("workspace_task_search.list", TASK in gids(search))

    downloaded = await sdk.attachments.download(attachment_gid=ATTACHMENT)
    content = base64.b64decode(downloaded["content_base64"])
    check("attachments.download", content == b"Launch day: June 1.\n")
    # A page at a time: the next page's offset comes back in the SDK's meta.
    first = await sdk.workspace_projects.list(workspace_gid=WORKSPACE, limit=1)
    next_page = first.meta.next_page if first.meta else None
    offset = (next_page or {}).get("offset")
    check("a first page of one, with the next page's offset", len(first.data) == 1 and offset)
    second = await sdk.workspace_projects.list(workspace_gid=WORKSPACE, limit=1, offset=offset)
    check("the next page", len(second.data) == 1 and gids(second) != gids(first))

    # An unknown record is the service's 404, raised by the SDK as an HTTP error.
    try:
        await sdk.tasks.get(task_gid="1999999999999999")
        check("an unknown task raises", False)
    except httpx.HTTPStatusError as e:
        check("an unknown task is 404", e.response.status_code == 404)

    consent = await AsanaConnector.get_consent_url(
        airbyte_config=AirbyteAuthConfig(
            customer_name="customer-2",
            airbyte_client_id=client_id,
            airbyte_client_secret=client_secret,
        ),
        redirect_url="http://127.0.0.1/connected",
    )
    check("get_consent_url returns Asana's consent page", "/oauth" in consent and "state=" in consent)

    # The customer consents (the fake Asana approves at once) and comes back through the service's
    # callback to the application's redirect URL, with the new connector's id and a secret id.
    async with httpx.AsyncClient() as browser:
        at_asana = await browser.get(consent)
        callback = at_asana.headers["location"]
        back = await browser.get(callback)
        check("the callback sends the customer back", back.status_code == 303)
        returned = httpx.URL(back.headers["location"])
        check("to the application's redirect URL", returned.path == "/connected")
    connector_id = returned.params["connector_id"]
    secret_id = returned.params["secret_id"]
    # An application written for the older flow creates the connector from the secret id: it
    # gets the one the callback made.
    consented = await AsanaConnector.create(
        airbyte_config=AirbyteAuthConfig(
            customer_name="customer-2",
            airbyte_client_id=client_id,
            airbyte_client_secret=client_secret,
        ),
        server_side_oauth_secret_id=secret_id,
    )
    check("create() from the secret id is that connector", consented.connector_id == connector_id)
    me = await consented.users.get(user_gid="me")
    check("and calls Asana with the consented tokens", me["gid"] == ME)
    check.report()


asyncio.run(main())
