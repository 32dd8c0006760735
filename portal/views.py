"""The partner's page: a partner member sees its grants and quarters, downloads a quarter's
template, sends it back filled, reads the problems by cell, and submits.

The views translate, they decide nothing: what a user sees comes from ``grants.access``, the
quarters and their balances from ``expenditures.selectors``, every write and its rules from
``expenditures.statements``. A grant the user does not see, or a quarter that is not one of its
partner's, is a 404; a finance officer or a donor member, who has no partner page, gets a page
saying where to go instead (403).

French by default, the partners' language; English when chosen (Django's ``set_language``
cookie).
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from expenditures.selectors import PartnerQuarter, partner_quarter, partner_quarters
from expenditures.statements import statement_submit, statement_upload
from expenditures.workbook import cell_of, statement_template
from grants.access import grant_visible_to, grants_visible_to, partner_scope, partner_visible_on_grant
from grants.errors import ApplicationError
from grants.models import Role
from grants.roles import role_of
from portal.forms import UploadForm

DEFAULT_LANGUAGE = "fr"  # the partners in Mali work in French
PROBLEMS_SHOWN = 200  # a page stays light on a slow line; the rest are counted
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def page_language(request) -> str:
    """The language the user chose with the switch, else French (not the browser's)."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return chosen if chosen in dict(settings.LANGUAGES) else DEFAULT_LANGUAGE


def in_page_language(view):
    """Run and render ``view`` in the page's language."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        language = page_language(request)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()  # a TemplateResponse (the login page) renders here, in the language
        response["Content-Language"] = language
        return response

    return wrapper


def partner_page(view):
    """Anonymous users go to the login page; users with no partner get the page that says where
    they work instead; a partner member's view is called with its partner."""

    @in_page_language
    @login_required(login_url="portal:login")
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        partner = partner_scope(request.user)  # a partner member's own partner; None for everyone else
        if partner is None:
            return render(request, "portal/not_a_partner.html", {"role": role_of(request.user), "Role": Role},
                          status=403)
        return view(request, partner, *args, **kwargs)

    return wrapper


login = in_page_language(auth_views.LoginView.as_view(template_name="portal/login.html", next_page="portal:home"))
logout = in_page_language(auth_views.LogoutView.as_view(next_page="portal:login"))


@require_GET
@partner_page
def home(request, partner):
    today = timezone.localdate()
    grants = [(grant, partner_quarters(grant=grant, partner=partner, today=today))
              for grant in grants_visible_to(request.user).order_by("code")]
    return render(request, "portal/home.html", {"partner": partner, "grants": grants})


def _quarter(request, partner, grant_code: str, period: str) -> PartnerQuarter:
    grant = grant_visible_to(request.user, grant_code)
    if grant is None or partner_visible_on_grant(request.user, grant, partner.code) is None:
        raise Http404
    row = partner_quarter(grant=grant, partner=partner, period=period, today=timezone.localdate())
    if row is None:
        raise Http404
    return row


def _in_cells(problems: list[dict]) -> list[dict]:
    """Each problem with the cell it concerns (``cell``): the upload and the checks of a statement
    read from a workbook name it (the cell it was typed in); else a field ("expenditures.3.amount")
    is placed in the template of the page's language. A problem of the whole file or of the
    statement's state has no cell."""
    language = translation.get_language()
    shown = []
    for problem in problems:
        cell = problem.get("cell") or cell_of(problem.get("attr"), language) or problem.get("attr") or ""
        shown.append({**problem, "cell": cell if "!" in cell else ""})  # else the file, or the state
    return shown


def _quarter_page(request, partner, row: PartnerQuarter, *, form=None, problems=None, failed: str = ""):
    shown = problems if problems is not None else (row.statement.problems if row.statement is not None else [])
    return render(request, "portal/quarter.html", {
        "partner": partner, "row": row, "form": form or UploadForm(), "failed": failed,
        "problems": _in_cells(shown[:PROBLEMS_SHOWN]), "problem_count": len(shown),
        "problems_hidden": max(0, len(shown) - PROBLEMS_SHOWN),
    })


@require_GET
@partner_page
def quarter(request, partner, grant: str, period: str):
    return _quarter_page(request, partner, _quarter(request, partner, grant, period))


@require_GET
@partner_page
def template(request, partner, grant: str, period: str):
    row = _quarter(request, partner, grant, period)
    content, filename = statement_template(grant=row.grant, partner=partner, period=row.period,
                                           lang=translation.get_language())
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _back_to(row: PartnerQuarter):
    return redirect(reverse("portal:quarter", args=[row.grant.code, row.period]))


@partner_page
def upload(request, partner, grant: str, period: str):
    row = _quarter(request, partner, grant, period)
    if request.method != "POST":
        return _back_to(row)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _quarter_page(request, partner, row, form=form)
    try:
        statement = statement_upload(file=form.cleaned_data["file"], by=request.user,
                                     lang=translation.get_language())
    except ApplicationError as exc:
        return _quarter_page(request, partner, row, form=form, problems=exc.errors,
                             failed=_("The file was not saved."))
    messages.success(request, _("The file was read: the statement for %(period)s is saved as a draft. Submit it "
                                "when it is complete.") % {"period": statement.period})
    return redirect(reverse("portal:quarter", args=[statement.grant.code, statement.period]))


@partner_page
def submit(request, partner, grant: str, period: str):
    row = _quarter(request, partner, grant, period)
    if request.method != "POST" or row.statement is None:
        return _back_to(row)
    try:
        statement_submit(statement=row.statement, by=request.user)
    except ApplicationError as exc:
        return _quarter_page(request, partner, row, problems=exc.errors,
                             failed=_("The statement was not submitted."))
    messages.success(request, _("The statement for %(period)s is submitted: the finance officer will review "
                                "it.") % {"period": row.period})
    return _back_to(row)
