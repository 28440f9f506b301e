#!/usr/bin/env python3
"""Rebuild data/status_codes.csv and data/carriers.csv from the Skycore reference.

Usage: python3 data/extract_reference.py [REFERENCE_DIR]
(default REFERENCE_DIR: ../shared/reference/skycore relative to the repository root)

Both editions are read. Where they disagree the newer edition wins, because it
fixes the older one's typos ("O20" for "O2", "T-MobileÂŽ", "AT&amp;amp;T").
A SPID listed for more than one country or carrier in the same edition (0007000
is both Kazakstan and Russia) keeps one row whose names are joined with " / ",
so that joining postbacks to carriers never multiplies rows.
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


# What a code means for the event it reports. Pass-generation failures are
# N-codes (N802, N803, N811), so the letter alone does not decide.
FAILURE = {"N802", "N803", "N811"}
SUCCESS = {"N003", "N013", "N201", "N202", "N801"}


def outcome(code):
    if code.startswith("E") or code in FAILURE:
        return "failure"
    if code in SUCCESS:
        return "success"
    return "information"


def write_status_codes():
    old, new = older_codes(), newer_codes()
    path = os.path.join(ROOT, "data", "status_codes.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "description", "outcome", "edition"])
        for code in sorted(set(old) | set(new)):
            edition = "both" if code in old and code in new else ("newer" if code in new else "older")
            desc = new.get(code) or old[code]
            desc = desc[0].upper() + desc[1:]
            if not desc.endswith("."):
                desc += "."
            w.writerow([code, desc, outcome(code), edition])
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
        w.writerow(["spid", "country", "carrier", "edition"])
        for spid in sorted(set(old) | set(new)):
            edition = "both" if spid in old and spid in new else ("newer" if spid in new else "older")
            country, carrier = new.get(spid) or old[spid]
            w.writerow([spid, country, carrier, edition])
    return len(set(old) | set(new))


if __name__ == "__main__":
    print(f"status_codes.csv: {write_status_codes()} codes")
    print(f"carriers.csv: {write_carriers()} SPIDs")
