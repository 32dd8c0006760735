"""The API tests' world: records built once per test module, and a client per role.

``world`` (module scope) builds the module's records once, inside a transaction rolled back at the
module's end (``support.module_world``), and answers the users' tokens. It builds what the module's
own ``build()`` makes, when the module defines one, else ``build_seed_and_users``: the Mali seed
and a user per role. ``clients`` gives each test an ``APIClient`` per role (and ``anonymous``);
each test runs in a savepoint of the module's transaction, so every test sees the same world.
"""

from __future__ import annotations

import pytest

from budget.seed import seed_load
from tests.api import support


def build_seed_and_users() -> dict[str, str]:
    """The Mali seed (grant, partners, locations, donors) and ``support.make_users()``."""
    seed_load()
    return support.make_users()


@pytest.fixture(scope="module")
def world(request, django_db_setup, django_db_blocker):
    build = getattr(request.module, "build", build_seed_and_users)
    with support.module_world(django_db_blocker, build) as tokens:
        yield tokens


@pytest.fixture
def clients(world, db):
    return support.clients_for(world)
