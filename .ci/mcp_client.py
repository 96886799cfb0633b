"""The Model Context Protocol's reference Python SDK (PyPI `mcp`) as a client of `integrations`,
both ways an MCP host connects to it. Run by `.ci/clients`.

- The service's `/mcp`, over streamable HTTP: it makes a customer's connector and scoped token
  through the REST API, then, with that token alone, initializes, lists the tools, describes an
  entity, executes a read (structured content and text both) and gets an unknown entity's tool
  error.
- `integrations mcp asana` on stdin and stdout, started as Claude Desktop starts it (the SDK
  gives the process a minimal environment plus what the config's `env` names): after
  `integrations login asana --with-token`, the same read.

Usage: mcp_client.py URL CLIENT_ID CLIENT_SECRET ASANA_TOKEN ASANA_API INTEGRATIONS_BINARY
"""

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile

import httpx2
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from client_support import ME, Checks, application_token, token_connector

url, client_id, client_secret, asana_token, asana_api, binary = sys.argv[1:]
check = Checks("mcp-client")


async def main():
    app_token = await application_token(url, client_id, client_secret)
    async with httpx2.AsyncClient(base_url=url) as rest:
        answer = await rest.post(
            "/api/v1/account/applications/scoped-token",
            headers={"Authorization": f"Bearer {app_token}"},
            json={"customer_name": "mcp-customer"},
        )
        scoped = answer.json()["token"]
    made = await token_connector(url, app_token, "mcp-customer", asana_token)
    check("a connector for the customer", made)

    # The customer's scoped token reaches its one connector, as a browser-side agent would.
    headers = {"Authorization": f"Bearer {scoped}"}
    async with httpx2.AsyncClient(headers=headers) as http:
        async with streamable_http_client(f"{url}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                check("initialize names the server", init.server_info.name == "integrations")
                check("the server offers tools", init.capabilities.tools is not None)
                tools = await session.list_tools()
                names = sorted(tool.name for tool in tools.tools)
                check("tools: describe and execute", names == ["describe", "execute"])

                described = await session.call_tool("describe", {"entity": "tasks"})
                text = described.content[0].text
                check("describe tasks", not described.is_error and '"get"' in text)

                me = await session.call_tool(
                    "execute",
                    {"entity": "users", "action": "get", "params": {"user_gid": "me"}},
                )
                check("execute users.get as structured content", not me.is_error)
                check("the user", me.structured_content["data"]["gid"] == ME)
                check("and as text", json.loads(me.content[0].text)["data"]["gid"] == ME)

                wrong = await session.call_tool(
                    "execute", {"entity": "userz", "action": "get", "params": {}}
                )
                error = wrong.structured_content["error"]
                check("an unknown entity is a tool error", wrong.is_error)
                check("of its kind, not retryable", (error["kind"], error["retryable"]) == ("unknown_entity", False))
                check("and said in its text", wrong.content[0].text == error["message"])
    await over_stdio()
    check.report()


async def over_stdio():
    with tempfile.TemporaryDirectory() as home:
        env = {
            "ASANA_API_BASE_URL": asana_api,
            "INTEGRATIONS_STORE": f"sqlite:{home}/credentials.db",
            "INTEGRATIONS_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        login = subprocess.run(
            [binary, "login", "asana", "--with-token"],
            input=asana_token,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        check("integrations login asana --with-token", login.returncode == 0)
        server = StdioServerParameters(command=binary, args=["mcp", "asana"], env=env)
        async with stdio_client(server) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                check("stdio: initialize", init.server_info.name == "integrations")
                tools = await session.list_tools()
                names = sorted(tool.name for tool in tools.tools)
                check("stdio: describe and execute", names == ["describe", "execute"])
                me = await session.call_tool(
                    "execute",
                    {"entity": "users", "action": "get", "params": {"user_gid": "me"}},
                )
                check("stdio: execute users.get", me.structured_content["data"]["gid"] == ME)


asyncio.run(main())
