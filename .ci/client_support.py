"""What the client scripts of `.ci/clients` share: counted checks, a record field read from a
dict or a model, and a customer's connector made through the service's REST API."""

import httpx

# The testkit's seed (provider-asana-testkit/src/seed.rs).
ME = "4673218951"
WORKSPACE = "1201000000000101"
TASK = "1201000000000601"


class Checks:
    """Counts passed checks; the first that fails ends the script, naming itself."""

    def __init__(self, name):
        self.name = name
        self.passed = 0

    def __call__(self, what, condition):
        if not condition:
            raise SystemExit(f"{self.name}: FAILED: {what}")
        self.passed += 1

    def report(self):
        print(f"{self.name}: {self.passed} checks passed")


def field(record, name):
    """A field of a record, which the SDKs give as a dict or as a model."""
    return record[name] if isinstance(record, dict) else getattr(record, name)


async def application_token(url, client_id, client_secret):
    """The application's service token."""
    async with httpx.AsyncClient(base_url=url) as rest:
        answer = await rest.post(
            "/api/v1/account/applications/token",
            json={"client_id": client_id, "client_secret": client_secret},
        )
        return answer.json()["access_token"]


async def token_connector(url, token, customer, asana_token):
    """Creates `customer`'s Asana connector with `asana_token`; whether the service made it."""
    async with httpx.AsyncClient(base_url=url) as rest:
        answer = await rest.post(
            "/api/v1/integrations/connectors",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "customer_name": customer,
                "connector_type": "asana",
                "credentials": {"token": asana_token},
            },
        )
        return answer.status_code == 201
