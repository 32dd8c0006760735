"""Submit a quarterly statement to the grant ledger from a file of expenditure lines, with plain
HTTP (Python 3.11+, the standard library only), and print every problem with its row and column.

    python examples/submit_statement.py --base http://127.0.0.1:8000 --token KEY \\
        --grant ML-ESEC-2015 --period 2018-Q2 lines.json
    python examples/submit_statement.py ... --opening 0 --received 650000 --closing 250000 \\
        --cash 50000 --bank 200000 --lang fr lines.csv
    python examples/submit_statement.py ... --template statement.xlsx   # the XLSX template instead

The lines file is one of:

- CSV with a header row: ``date,budget_line,location,amount,voucher,description``
  (``amount_currency`` optional, else ``--currency``), e.g. ``2016-01-25,2.1,SEG,125000,B-001,Rent``;
- JSON: a list of such lines, or a statement as the API names it (``opening_balance``,
  ``funds_received``, ``closing_balance``, ``cash_on_hand``, ``bank_balance``, ``explanations``,
  ``expenditures``), amounts as strings or numbers.

The balances given as options override the file's. The statement is created as a draft (or, if
the partner already has a draft or returned statement for the quarter, that one is updated) and
submitted. Exit status: 0 submitted, 1 refused (the problems are printed), 2 any other error.
``--partner`` is for a finance officer; a partner member's token names its own partner.
``--lang fr`` prints in French (the server's messages too).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

BALANCES = {"opening": "opening_balance", "received": "funds_received", "closing": "closing_balance",
            "cash": "cash_on_hand", "bank": "bank_balance"}
LINE_COLUMNS = ("date", "budget_line", "location", "amount", "amount_currency", "voucher", "description")

TEXT = {
    "en": {
        "created": "Statement {id} ({partner}, {period}) drafted.",
        "updated": "Statement {id} ({partner}, {period}) updated.",
        "submitted": "Submitted: statement {id}, {count} lines, {total} {currency} spent.",
        "refused": "Refused: {count} problem(s).",
        "failed": "The server answered {status}:",
        "row": "row {number}", "line": "line {number}", "voucher": "voucher {voucher}",
        "explanation": "explanation for budget line {code}", "statement": "the statement",
        "template": "Template written to {path}.",
        "unreachable": "Cannot reach {base}: {reason}",
        "colon": ": ",
    },
    "fr": {
        "created": "Relevé {id} ({partner}, {period}) créé en brouillon.",
        "updated": "Relevé {id} ({partner}, {period}) mis à jour.",
        "submitted": "Soumis : relevé {id}, {count} lignes, {total} {currency} dépensés.",
        "refused": "Refusé : {count} problème(s).",
        "failed": "Le serveur a répondu {status} :",
        "row": "ligne {number} du fichier", "line": "ligne {number}", "voucher": "pièce {voucher}",
        "explanation": "justification de la ligne budgétaire {code}", "statement": "le relevé",
        "template": "Modèle enregistré dans {path}.",
        "unreachable": "Impossible de joindre {base} : {reason}",
        "colon": " : ",
    },
}


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status, self.body = status, body

    @property
    def errors(self) -> list[dict]:
        return self.body.get("errors", []) if isinstance(self.body, dict) else []


class Api:
    """The few calls this script makes: JSON in and out, ``Authorization: Token <key>``."""

    def __init__(self, base: str, token: str, lang: str):
        self.base = base.rstrip("/") + "/api/v1/"
        self.headers = {"Authorization": f"Token {token}", "Accept-Language": lang}

    def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None) -> bytes:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = {"errors": [{"code": "", "detail": raw.decode(errors="replace")[:200], "attr": None}]}
            raise ApiError(error.code, parsed) from None

    def json(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        return json.loads(self.call(method, path, body, query))


def read_statement(path: Path, currency: str) -> tuple[dict, str]:
    """The statement's fields from the file, and how its lines are numbered ("row": CSV, whose
    row 1 is the header; "line": JSON)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = [{key: (value or "").strip() for key, value in row.items() if key in LINE_COLUMNS}
                    for row in csv.DictReader(file)]
        fields, numbering = {"expenditures": rows}, "row"
    else:
        # Decimals, never floats: a number such as 125000.5 is sent as written.
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        fields, numbering = ({"expenditures": data} if isinstance(data, list) else dict(data)), "line"
    for line in fields.get("expenditures", []):
        line["amount"] = str(line.get("amount", ""))
        line.setdefault("amount_currency", currency)
        if not line["amount_currency"]:
            line["amount_currency"] = currency
    for name in BALANCES.values():
        if name in fields:
            fields[name] = str(fields[name])
            fields.setdefault(f"{name}_currency", currency)
    return fields, numbering


def where(attr: str | None, fields: dict, numbering: str, text: dict) -> str:
    """``expenditures.2.amount`` -> "row 4 (voucher B-3), amount"; ``explanations.2.3`` -> the
    explanation for line 2.3; a cell ("Dépenses!D14") or a field as it is."""
    if not attr:
        return text["statement"]
    parts = attr.split(".")
    if parts[0] == "expenditures" and len(parts) >= 2 and parts[1].isdigit():
        index = int(parts[1])
        number = index + 2 if numbering == "row" else index + 1
        place = text[numbering].format(number=number)
        lines = fields.get("expenditures", [])
        voucher = lines[index].get("voucher") if index < len(lines) else None
        if voucher:
            place += f" ({text['voucher'].format(voucher=voucher)})"
        return place + (f", {'.'.join(parts[2:])}" if len(parts) > 2 else "")
    if parts[0] == "explanations" and len(parts) > 1:
        return text["explanation"].format(code=".".join(parts[1:]))
    return attr


def print_errors(error: ApiError, fields: dict, numbering: str, text: dict) -> None:
    heading = text["refused"].format(count=len(error.errors)) if error.status == 400 else \
        text["failed"].format(status=error.status)
    print(heading)
    for problem in error.errors:
        print(f"  - {where(problem.get('attr'), fields, numbering, text)}{text['colon']}{problem.get('detail')} "
              f"[{problem.get('code')}]")


def draft(api: Api, args, fields: dict, text: dict) -> dict:
    """The partner's statement for the quarter: created, or the draft or returned one updated."""
    body = {"grant": args.grant, "period": args.period, **fields}
    if args.partner:
        body["partner"] = args.partner
    try:
        statement = api.json("POST", "statements/", body)
        print(text["created"].format(**statement))
        return statement
    except ApiError as error:
        if error.status != 409 or [e.get("code") for e in error.errors] != ["statement_exists"]:
            raise
    year, quarter = args.period.split("-Q")
    query = {"grant": args.grant, "year": year, "quarter": quarter, **({"partner": args.partner} if args.partner
                                                                         else {})}
    (existing,) = api.json("GET", "statements/", query=query)["results"]
    statement = api.json("PATCH", f"statements/{existing['id']}/", fields)
    print(text["updated"].format(**statement))
    return statement


def main(argv: list[str] | None = None) -> int:
    description, usage = __doc__.split("\n\n", 1)
    parser = argparse.ArgumentParser(description=description, epilog=usage,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the ledger's address, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="your API token")
    parser.add_argument("--grant", required=True, help="e.g. ML-ESEC-2015")
    parser.add_argument("--period", required=True, help="a calendar quarter, e.g. 2018-Q2")
    parser.add_argument("--partner", help="the partner's code (finance officers only)")
    parser.add_argument("--currency", default="XOF", help="the currency of amounts given without one (XOF)")
    parser.add_argument("--lang", choices=sorted(TEXT), default="en")
    for option, name in BALANCES.items():
        parser.add_argument(f"--{option}", metavar="AMOUNT", help=f"the statement's {name}")
    parser.add_argument("--template", metavar="FILE.xlsx", type=Path,
                        help="download the quarter's XLSX template to this file instead of submitting")
    parser.add_argument("lines", nargs="?", type=Path, help="the lines: a .csv or .json file")
    args = parser.parse_args(argv)
    text = TEXT[args.lang]
    api = Api(args.base, args.token, args.lang)
    fields, numbering = {}, "line"
    try:
        if args.template:
            query = {"grant": args.grant, "period": args.period, "lang": args.lang,
                     **({"partner": args.partner} if args.partner else {})}
            args.template.write_bytes(api.call("GET", "statements/template.xlsx/", query=query))
            print(text["template"].format(path=args.template))
            return 0
        if args.lines is None:
            parser.error("a lines file (.csv or .json) is needed, or --template")
        fields, numbering = read_statement(args.lines, args.currency)
        for option, name in BALANCES.items():
            if getattr(args, option) is not None:
                fields[name], fields[f"{name}_currency"] = getattr(args, option), args.currency
        statement = draft(api, args, fields, text)
        submitted = api.json("POST", f"statements/{statement['id']}/submit/")
    except ApiError as error:
        print_errors(error, fields, numbering, text)
        return 1 if error.status == 400 else 2
    except urllib.error.URLError as error:
        print(text["unreachable"].format(base=args.base, reason=error.reason), file=sys.stderr)
        return 2
    print(text["submitted"].format(id=submitted["id"], count=len(submitted["expenditures"]),
                                   total=submitted["total_spent"], currency=submitted["total_spent_currency"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
