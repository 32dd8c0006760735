import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from grants.models import Donor, Membership, Partner, Role
from grants.roles import ensure_role_groups

# username -> (role, partner or donor code)
DEMO_USERS = {
    "finance": (Role.FINANCE_OFFICER, None),
    "caritas": (Role.PARTNER_MEMBER, "CARITAS"),
    "bnce": (Role.PARTNER_MEMBER, "BNCE"),
    "apjec": (Role.PARTNER_MEMBER, "APJEC"),
    "donor": (Role.DONOR_MEMBER, "MAEE-LU"),
}


class Command(BaseCommand):
    help = (
        "Create the demo users (finance, caritas, bnce, apjec, donor), each with an API token. "
        "Run load_seed first. Their password is their username: for a demo only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print only {user: token} as JSON.")

    @transaction.atomic
    def handle(self, *args, **options):
        groups = ensure_role_groups()
        User = get_user_model()
        tokens = {}
        for username, (role, code) in DEMO_USERS.items():
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(username)
                user.is_staff = role == Role.FINANCE_OFFICER
                user.save()
            user.groups.add(groups[role.value])
            if role == Role.PARTNER_MEMBER:
                partner = Partner.objects.filter(code=code).first()
                if partner is None:
                    raise CommandError(f"Partner {code} is missing: run load_seed first.")
                Membership.objects.get_or_create(user=user, partner=partner)
            elif role == Role.DONOR_MEMBER:
                donor = Donor.objects.filter(code=code).first()
                if donor is None:
                    raise CommandError(f"Donor {code} is missing: run load_seed first.")
                Membership.objects.get_or_create(user=user, donor=donor)
            if role == Role.FINANCE_OFFICER:
                _grant_admin_permissions(user)
            tokens[username] = Token.objects.get_or_create(user=user)[0].key
        if options["json"]:
            self.stdout.write(json.dumps(tokens))
            return
        self.stdout.write("Demo users (password = username; API: Authorization: Token <key>):")
        for username, key in tokens.items():
            role = DEMO_USERS[username][0].label
            self.stdout.write(f"  {username:8} {str(role):18} {key}")


def _grant_admin_permissions(user) -> None:
    """Finance officers use the admin: their group may change every ledger record."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.get(name=Role.FINANCE_OFFICER.value)
    perms = Permission.objects.filter(
        content_type__app_label__in=["grants", "budget", "expenditures", "authtoken"]
    )
    group.permissions.add(*perms)
