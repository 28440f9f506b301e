#!/usr/bin/env python3
"""The Python peer: what a user could write in an afternoon with lxml and duckdb.

Usage: peer_lxml.py CORPUS DATABASE

Walks the corpus, parses every .xml and .xml.gz file with lxml (recover=True, so
broken files do not stop it), takes every element under each POSTBACK as a field,
writes the rows to a CSV file and loads it into DuckDB with COPY (row-by-row inserts
would be far slower). No deduplication, no ledger, no error records.
"""
import csv
import gzip
import os
import sys
import tempfile

import duckdb
from lxml import etree

FIELDS = ["ORIGIN", "CODE", "STATUSCODE", "TIMESTAMP", "RECEIVED", "STATUS", "STATUSDETAILS",
          "SENTAS", "MMSID", "FROM", "FROM_MASK", "TO", "SPID", "TRACKINGID", "TRANSACTIONID",
          "AGGREGATORID", "HANDSET", "KEYWORD", "SUBJECT", "TEXT", "MOBILE", "EMAIL", "CAMPAIGNID",
          "CAMPAIGNTITLE", "SUBID", "SHORTCODE", "BRANDNAME", "SOURCE", "REFERENCEDBY",
          "REFERENCEVALUE", "CUSTOMPASSID", "PASSDATAID", "SERIALNUMBER"]


def postbacks(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        root = etree.fromstring(data, etree.XMLParser(recover=True))
    except Exception:
        return
    if root is None:
        return
    for postback in root.iter("POSTBACK", "NOTIFICATION"):
        row = {}
        for element in postback.iter():
            if element is not postback and element.text is not None:
                row.setdefault(element.tag, element.text.strip())
        if "ORIGIN" in row:
            yield row


def main():
    corpus, database = sys.argv[1], sys.argv[2]
    with tempfile.NamedTemporaryFile("w", newline="", suffix=".csv", delete=False) as out:
        writer = csv.writer(out)
        writer.writerow(["path"] + FIELDS)
        for directory, _, names in os.walk(corpus):
            for name in sorted(names):
                if name.endswith((".xml", ".xml.gz")):
                    path = os.path.join(directory, name)
                    for row in postbacks(path):
                        writer.writerow([path] + [row.get(field) for field in FIELDS])
    con = duckdb.connect(database)
    con.execute(f"CREATE TABLE postbacks AS SELECT * FROM read_csv('{out.name}', all_varchar = true)")
    print(con.execute("SELECT count(*) FROM postbacks").fetchone()[0])
    os.unlink(out.name)


if __name__ == "__main__":
    main()
