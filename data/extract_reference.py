#!/usr/bin/env python3
"""Rebuild data/status_codes.csv and data/carriers.csv from the Skycore reference,
and check data/code_statuses.csv against it.

Usage: python3 data/extract_reference.py [REFERENCE_DIR]
(default REFERENCE_DIR: ../shared/reference/skycore relative to the repository root)

Both editions are read. Where they disagree the newer edition's names go in
`country` and `carrier`, because it fixes the older one's typos ("O20" for "O2",
"T-MobileÂŽ", "AT&amp;amp;T", which are corrected before comparing); where the
older edition still names a SPID otherwise (0001000 is "All Carriers" in Canada
there and in the United States in the newer edition), its names go in
`older_country` and `older_carrier`, which are empty wherever the editions agree.
`edition` says which editions list the SPID. A SPID listed for more than one
country or carrier in the same edition (0007000 is both Kazakstan and Russia)
keeps one row whose names are joined with " / ", so that joining postbacks to
carriers never multiplies rows.

data/code_statuses.csv, what each (code, STATUS) means, is written by hand from the
per-postback pages (the STATUS values are in their prose, not in a table): this
script checks that every code has exactly one `other` row and that every STATUS it
lists appears, in double quotes or after "N101/N501 - ", on a page of the edition
the row names.
"""
import csv
import html
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "reference", "skycore")


def read(path):
    with open(os.path.join(REF, path), encoding="utf-8") as f:
        return f.read()


def clean(text):
    text = html.unescape(html.unescape(text)).replace("\u00c2\u017d", "")
    return re.sub(r"\s+", " ", text).strip()


def older_codes():
    text = read("APPENDIX_B.md")
    section = text.split("ii. Postback Notification Codes")[1].split("iii.")[0]
    rows = re.findall(r"([EN]\d{3})\s*-\s*([^<\n]+)", section)
    return {code: clean(desc) for code, desc in rows}


def newer_codes():
    text = read("newer/APPENDIX_D.md")
    rows = re.findall(r"^\|\s*([EN]\d{3})\s*\|\s*(.*?)\s*\|", text, re.M)
    return {code: clean(desc) for code, desc in rows}


# The family of postbacks each code belongs to, from the page that documents it.
# What a code means (its outcome) depends on STATUS for some codes: that is in
# data/code_statuses.csv.
FAMILIES = {
    "pass": {"N801", "N802", "N803", "N811"},
    "message_send": {"N101", "N201", "N501", "E101", "E201", "E501", "E999"},
    "message_receipt": {"N102", "N202", "N502", "E102", "E202", "E502"},
    "mms_content": {"N003", "N013", "E001", "E002", "E003", "E011", "E012", "E013"},
    "inbound": {"N211", "N401"},
    "subscription": {"N301", "N302", "N303", "N304"},
}


def family(code):
    for name, codes in FAMILIES.items():
        if code in codes:
            return name
    raise SystemExit(f"{code}: no family; add it to FAMILIES")


def write_status_codes():
    old, new = older_codes(), newer_codes()
    path = os.path.join(ROOT, "data", "status_codes.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "description", "family", "edition"])
        for code in sorted(set(old) | set(new)):
            edition = "both" if code in old and code in new else ("newer" if code in new else "older")
            desc = new.get(code) or old[code]
            desc = desc[0].upper() + desc[1:]
            if not desc.endswith("."):
                desc += "."
            w.writerow([code, desc, family(code), edition])
    return len(set(old) | set(new))


def older_carriers():
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>", read("APPENDIX_E.md"), re.S)
    return [(clean(r[2]), clean(r[0]), clean(r[1]).replace("O20", "O2").replace("Tele 20", "Tele 2")) for r in rows]


def newer_carriers():
    table = read("newer/APPENDIX_E.md").split("Carrier Max")[0]
    rows = re.findall(r"^\|\s*([^|\n]+?)\s*\|\s*([^|\n]+?)\s*\|\s*(\d{7})\s*\|", table, re.M)
    return [(r[2], clean(r[0]), clean(r[1])) for r in rows]


def group(rows):
    by_spid = {}
    for spid, country, carrier in rows:
        entry = by_spid.setdefault(spid, ([], []))
        if country not in entry[0]:
            entry[0].append(country)
        if carrier not in entry[1]:
            entry[1].append(carrier)
    return {spid: (" / ".join(c), " / ".join(k)) for spid, (c, k) in by_spid.items()}


def write_carriers():
    old, new = group(older_carriers()), group(newer_carriers())
    path = os.path.join(ROOT, "data", "carriers.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["spid", "country", "carrier", "edition", "older_country", "older_carrier"])
        for spid in sorted(set(old) | set(new)):
            edition = "both" if spid in old and spid in new else ("newer" if spid in new else "older")
            country, carrier = new.get(spid) or old[spid]
            older = old.get(spid) if spid in new and old.get(spid) != new[spid] else None
            w.writerow([spid, country, carrier, edition, *(older or ("", ""))])
    return len(set(old) | set(new))


PAGES = {
    "older": ["POSTBACK_SMS+MMS_MT.md"],
    "newer": ["newer/POSTBACK_DELIVERY_REPORTS.md"],
}


def check_code_statuses():
    """Problems of data/code_statuses.csv against status_codes.csv and the pages."""
    with open(os.path.join(ROOT, "data", "status_codes.csv"), encoding="utf-8") as f:
        codes = {row["code"] for row in csv.DictReader(f)}
    with open(os.path.join(ROOT, "data", "code_statuses.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    pages = {ed: clean(" ".join(read(p) for p in paths)) for ed, paths in PAGES.items()}
    problems = []
    for code in sorted(codes):
        others = [r for r in rows if r["code"] == code and r["status_rule"] == "other"]
        if len(others) != 1:
            problems.append(f"{code}: {len(others)} `other` rows, want 1")
    for row in rows:
        if row["code"] not in codes:
            problems.append(f"{row['code']}: not in status_codes.csv")
        if row["status_rule"] != "is":
            continue
        editions = ["older", "newer"] if row["edition"] == "both" else [row["edition"]]
        for edition in editions:
            status = row["status"]
            quoted = f'"{status}"' in pages[edition] or f"- {status}" in pages[edition]
            if not quoted:
                problems.append(f"{row['code']} {status!r}: not on the {edition} edition's pages")
    return len(rows), problems


if __name__ == "__main__":
    print(f"status_codes.csv: {write_status_codes()} codes")
    print(f"carriers.csv: {write_carriers()} SPIDs")
    count, problems = check_code_statuses()
    for problem in problems:
        print(f"code_statuses.csv: {problem}", file=sys.stderr)
    print(f"code_statuses.csv: {count} rows checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)
