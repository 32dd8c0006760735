"""Progress where people wait (issue 16): the long commands show a bar on a terminal and plain
lines otherwise (grants.progress); a revaluation runs from the command line too."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from expenditures.models import Expenditure
from grants.models import Grant
from grants.progress import CommandProgress
from tests.reports.test_footing import spend_on_seed


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_at_most_one_per_tenth_and_the_end():
    out = StringIO()
    progress = CommandProgress(out, "work")
    for done in range(0, 1001, 7):
        progress(done, 1000)
    progress(1000, 1000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "work: 0 / 1000 (0 %)" and lines[-1] == "work: 1000 / 1000 (100 %)"
    assert len(lines) == 11  # 0 %, 10 %, ..., 100 %, each once


def test_a_bar_on_a_terminal():
    out = Terminal()
    progress = CommandProgress(out, "work")
    for done in (0, 500, 1000):
        progress(done, 1000)
    progress.close()
    assert "work" in out.getvalue() and "1000/1000" in out.getvalue() and "\r" in out.getvalue()


def test_generate_history_tells_its_progress(grant):
    err, out = StringIO(), StringIO()
    call_command("generate_history", "--expenditures", "300", stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert lines and lines[-1] == "generate_history: 300 / 300 (100 %)"
    assert "generated 300 expenditures" in out.getvalue()


def test_revalue_grant_revalues_from_the_command_line_with_progress(grant):
    spend_on_seed(grant, 120)
    err, out = StringIO(), StringIO()
    call_command("revalue_grant", "ML-ESEC-2015", "weighted_average", stdout=out, stderr=err)
    assert Grant.objects.get(pk=grant.pk).fx_method == "weighted_average"
    total = Expenditure.objects.filter(grant=grant).count()
    assert err.getvalue().splitlines()[-1] == f"revalue_grant: {total} / {total} (100 %)"
    assert "ML-ESEC-2015: weighted_average," in out.getvalue()


def test_revalue_grant_refuses_an_unknown_grant(grant):
    with pytest.raises(CommandError):
        call_command("revalue_grant", "NOPE", "fifo", stdout=StringIO(), stderr=StringIO())
