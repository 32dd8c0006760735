"""Bench: what refusing each statement-upload bomb of issue 15 costs the server.

A plain script, not a test. On a throwaway SQLite database (in a temporary folder: no database
server is touched):

    .venv/bin/python bench/bench_upload_bombs.py

1. migrates, loads the seed and makes the ``bnce`` partner member (a token);
2. builds each bomb with zipfile from the template the API gives (tiny compressed, huge
   uncompressed), plus two files that are accepted, for scale: the filled template and a
   statement of 5,000 rows with 500-character descriptions;
3. sends each, in a fresh Python process, to ``POST /api/v1/statements/upload/`` (or, for the
   body over Django's limit, ``POST /api/v1/statements/``) with Django's test client, inside a
   transaction rolled back afterwards, and records the status, the code, the time of the request,
   the peak RSS of the process (``ru_maxrss``) before and after it, and whether a statement was
   written (the count inside the transaction, before it is rolled back);
4. prints a Markdown table (``--json`` for JSON lines).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
WARM_UP = b"PK\x05\x06" + bytes(18)  # an empty zip archive: refused as not a workbook
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_STRINGS = "xl/sharedStrings.xml"
API = "/api/v1/statements"


def django_setup(database: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


# --- the bombs ---------------------------------------------------------------------------------

Part = bytes | Iterator[bytes]


def rezip(content: bytes, replace: dict[str, Part] | None = None, add: dict[str, Part] | None = None,
          compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The workbook with parts replaced or added; a part given in pieces is deflated as it comes."""
    replace, add = replace or {}, add or {}
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression, compresslevel=9) as archive:
        parts = [(name, replace.get(name, source.read(name))) for name in source.namelist()] + list(add.items())
        for name, data in parts:
            if isinstance(data, bytes):
                archive.writestr(name, data)
                continue
            with archive.open(name, "w", force_zip64=True) as part:
                for piece in data:
                    part.write(piece)
    return out.getvalue()


def shared_strings(content: bytes, items: int, text: str = "a") -> Iterator[bytes]:
    """The workbook's shared strings, then ``items`` more, each ``text``, in pieces of about 1 MB:
    the cells still find theirs, so only the count is wrong."""
    own = zipfile.ZipFile(io.BytesIO(content)).read(SHARED_STRINGS)
    yield own[:own.rindex(b"</sst>")]
    si = f"<si><t>{text}</t></si>".encode()
    per_piece = max(1, MB // len(si))
    for start in range(0, items, per_piece):
        yield si * min(per_piece, items - start)
    yield b"</sst>"


def huge_string(content: bytes, chars: int) -> Iterator[bytes]:
    """The workbook's shared strings, then one of ``chars`` characters, in pieces of 1 MB."""
    own = zipfile.ZipFile(io.BytesIO(content)).read(SHARED_STRINGS)
    yield own[:own.rindex(b"</sst>")] + b"<si><t>"
    for start in range(0, chars, MB):
        yield b"x" * min(MB, chars - start)
    yield b"</t></si></sst>"


def zeros(size: int) -> Iterator[bytes]:
    for start in range(0, size, MB):
        yield bytes(min(MB, size - start))


def fill(content: bytes, rows: list[tuple], cash=None, bank=None, opening=None, formula_in=None) -> bytes:
    """The template as a partner fills it (openpyxl, as the tests do)."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    summary, sheet = book.worksheets[0], book.worksheets[1]
    for offset, row in enumerate(rows):
        for column, value in zip("ABCDEFG", row, strict=True):
            sheet[f"{column}{2 + offset}"] = value
    if opening is not None:
        summary["B8"] = opening
    summary["B13"], summary["B14"] = cash, bank
    if formula_in:
        summary[formula_in] = "=B11-B14"  # saved by openpyxl: no result
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def build(folder: Path) -> list[dict]:
    """Each case: a name, what it is, the request to send (a file, or a JSON body's size)."""
    from expenditures.workbook import statement_template
    from grants.models import Grant, Partner

    grant, bnce = Grant.objects.get(code="ML-ESEC-2015"), Partner.objects.get(code="BNCE")
    blank, _ = statement_template(grant=grant, partner=bnce, period="2016-Q3", lang="fr")
    row = (date(2016, 7, 12), "1.1", "SEG", 125000, "XOF", "V-1", "Animation thématique, Ségou")
    filled = fill(blank, [row], cash=0, bank=-125000 + 10**7, opening=10**7)
    many_rows = [(date(2016, 7, 1 + i % 28), "1.1", "SEG", 1000, "XOF", f"V-{i:05d}", f"{i:05d} " + "d" * 494)
                 for i in range(5000)]
    statement_5000 = fill(blank, many_rows, cash=0, bank=10**7 - 5000 * 1000, opening=10**7)
    styles = zipfile.ZipFile(io.BytesIO(filled)).read("xl/styles.xml").decode()
    xf = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    many_styles = re.sub(r'<cellXfs count="\d+">', lambda match: match.group(0) + xf * 400_000, styles, count=1)
    cases = [
        ("accepted: the filled template (1 row)", filled, None),
        ("accepted: 5,000 rows, 500-character descriptions", statement_5000, None),
        ("3,000,000 shared strings (the report's 133 KB file)",
         rezip(blank, {SHARED_STRINGS: shared_strings(blank, 3_000_000)}), None),
        ("100,001 shared strings, 1.7 MB unpacked (streamed count)",
         rezip(blank, {SHARED_STRINGS: shared_strings(blank, 100_001)}), None),
        ("one 150 MB cell (the report's 158 KB file)",
         rezip(blank, {SHARED_STRINGS: huge_string(blank, 150 * MB)}), None),
        ("one 200 MB cell", rezip(blank, {SHARED_STRINGS: huge_string(blank, 200 * MB)}), None),
        ("one cell of 32,768 characters (streamed)",
         rezip(blank, {SHARED_STRINGS: huge_string(blank, 32_768)}), None),
        ("a 1 GB part of zeros", rezip(filled, add={"xl/media/image1.png": zeros(1024 * MB)}), None),
        ("styles with 400,000 cell formats (25 MB, read whole by openpyxl)",
         rezip(filled, {"xl/styles.xml": many_styles.encode()}), None),
        ("50,000 parts", rezip(filled, add={f"x/{i}": b"" for i in range(50_000)}, compression=zipfile.ZIP_STORED),
         None),
        ("a 6 MB file (over the 5 MB limit)",
         rezip(filled, add={"xl/media/image1.png": os.urandom(6 * MB)}, compression=zipfile.ZIP_STORED), None),
        ("a 3 MB JSON body (over Django's 2.5 MB)", None, 3 * MB),
        ("a formula without its result in the cash cell", fill(blank, [row], cash=None, bank=-125000 + 10**7,
                                                             opening=10**7, formula_in="B13"), None),
    ]
    built = []
    for index, (name, content, json_bytes) in enumerate(cases):
        path = None
        if content is not None:
            path = folder / f"case{index}.xlsx"
            path.write_bytes(content)
        built.append({"name": name, "file": str(path) if path else None,
                      "file_bytes": len(content) if content is not None else None, "json_bytes": json_bytes,
                      "unpacked_bytes": sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist())
                      if content is not None else None})
    return built


# --- one request, in its own process -------------------------------------------------------------

def child(database: Path, token: str, file: str | None, json_bytes: int | None) -> None:
    django_setup(database)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from expenditures.models import QuarterlyStatement

    setup_test_environment()
    client = APIClient(raise_request_exception=False)  # a server error is a result too
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    # Warm-up: a first request pays for imports, URL patterns and translations, not the bomb.
    with transaction.atomic():
        client.post(f"{API}/upload/", {"file": SimpleUploadedFile("warm-up.xlsx", WARM_UP)}, format="multipart")
        transaction.set_rollback(True)
    if file:
        content = Path(file).read_bytes()
        body = {"file": SimpleUploadedFile("releve.xlsx", content)}
        path, kwargs = f"{API}/upload/", {"format": "multipart"}
    else:
        text = json.dumps({"grant": "ML-ESEC-2015", "period": "2016-Q3", "explanations": {"1.1": "x" * json_bytes}})
        body, path, kwargs = text, f"{API}/", {"content_type": "application/json"}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with transaction.atomic():
        started = time.perf_counter()
        response = client.post(path, body, **kwargs)
        elapsed = time.perf_counter() - started
        written = QuarterlyStatement.objects.count()
        transaction.set_rollback(True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    body = response.json() if response.get("Content-Type", "").startswith("application/json") else {}
    errors = body.get("errors") if response.status_code >= 400 else None
    print(json.dumps({"status": response.status_code, "code": errors[0]["code"] if errors else "",
                      "attr": errors[0]["attr"] if errors else "", "seconds": elapsed,
                      "rss_before_kib": before, "rss_after_kib": after, "statements": written}))


def prepare(folder: Path) -> None:
    """The database, the token and the files, described in ``folder/cases.json``."""
    django_setup(folder / "bench.sqlite3")
    from django.core.management import call_command

    from budget.seed import seed_load

    call_command("migrate", verbosity=0)
    seed_load()
    tokens = io.StringIO()
    call_command("create_demo_users", "--json", stdout=tokens)
    token = json.loads(tokens.getvalue())["bnce"]
    (folder / "cases.json").write_text(json.dumps({"token": token, "cases": build(folder)}))


def parent(as_json: bool) -> None:
    # The parent stays small and imports no Django: a child's ru_maxrss starts from the RSS of the
    # process that forked it (Linux keeps the high-water mark across exec).
    folder = Path(tempfile.mkdtemp(prefix="bench_upload_bombs_"))
    database = folder / "bench.sqlite3"
    subprocess.run([sys.executable, __file__, "--prepare", str(folder)], cwd=ROOT, check=True)
    prepared = json.loads((folder / "cases.json").read_text())
    token, cases = prepared["token"], prepared["cases"]
    rows = []
    for case in cases:
        command = [sys.executable, __file__, "--child", str(database), token, case["file"] or "",
                   str(case["json_bytes"] or 0)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({**case, **result})
        if as_json:
            print(json.dumps(rows[-1]), flush=True)
    shutil.rmtree(folder)
    if not as_json:
        print("| case | file | unpacked | status, code | time | peak RSS before -> after (growth) | statements |")
        print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
        for row in rows:
            size = f"{row['file_bytes'] / 1024:,.0f} KB" if row["file_bytes"] else f"{row['json_bytes'] / MB:.0f} MB"
            unpacked = f"{row['unpacked_bytes'] / MB:,.1f} MB" if row["unpacked_bytes"] else ""
            before, after = row["rss_before_kib"] / 1024, row["rss_after_kib"] / 1024
            print(f"| {row['name']} | {size} | {unpacked} | {row['status']} {row['code']} | "
                  f"{row['seconds']:.3f} s | {before:.0f} -> {after:.0f} MB (+{after - before:.0f}) | "
                  f"{row['statements']} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a Markdown table")
    parser.add_argument("--child", nargs=4, metavar=("DATABASE", "TOKEN", "FILE", "JSON_BYTES"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--prepare", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(Path(args.prepare))
    elif args.child:
        database, token, file, json_bytes = args.child
        child(Path(database), token, file or None, int(json_bytes))
    else:
        parent(args.json)


if __name__ == "__main__":
    main()
