#!/usr/bin/env python3
"""Checks that Ferry and Great Expectations found the same failures, and that both match what the input holds.

    compare.py META_JSON EXPECTATIONS_JSON FERRY_ANSWER_JSON FERRY_QUARANTINE_CSV OUT_JSON OUT_TXT GE_JSON...

META_JSON is make_data.py's record of the input: from the 20 example rows, how many rows carry each, and the
repeated rows and keys it wrote, the expected count of every expectation follows without reading the file
(`truth`). Per expectation it compares, in Ferry's terms (a repeated key or row counts once per repeat: the rows
after the first; GE's raw count, every row of a repeated group, must be twice that here since every group has two
rows):
  - range, not_null, unique_key, duplicate_row: Ferry's `failures`, the rows of Ferry's quarantine that carry the
    rule, GE's unexpected_count (translated), and with GE's COMPLETE result format the very rows (Ferry's
    quarantine rows against GE's unexpected indices + 1);
  - null_rate: Ferry's observed rate x rows against GE's unexpected_count of not_null(mostly=1-R);
  - type: Ferry's failures (0) against GE's dtype verdict; row_count: both tools' row counts;
  - pass/fail of each expectation, of the file, and the number of quarantined rows (GE: the union of the rows
    of its failing row expectations, COMPLETE only).
Prints MISMATCH lines and exits 1 on any difference; writes the table to OUT_TXT and the details to OUT_JSON.
"""
import json
import sys


def main():
    if len(sys.argv) < 8:
        sys.exit("usage: compare.py META_JSON EXPECTATIONS_JSON FERRY_ANSWER_JSON FERRY_QUARANTINE_CSV OUT_JSON OUT_TXT GE_JSON...")
    meta_path, spec_path, answer_path, quarantine_path, out_json, out_txt = sys.argv[1:7]
    meta, spec, answer = json.load(open(meta_path)), json.load(open(spec_path)), json.load(open(answer_path))
    ges = [json.load(open(p)) for p in sys.argv[7:]]
    columns = meta["columns"]
    counts = meta["example_counts"]
    key_counts = meta["repeated_key_example_counts"]
    examples = [[None if f == "" else float(f) for f in t.split(",")] for t in meta["example_texts"]]
    rows = meta["rows"]
    mismatches = []

    # ---- what the file holds, from the layout
    truth = {}
    bad_example = [False] * len(examples)
    for c in spec["columns"]:
        name = c["name"]
        lo, hi, rate = c.get("min"), c.get("max"), c.get("max_null_rate")
        truth[("type", name)] = 0
        if name == "id":  # ids are 1e9 + r (a repeated key: 1e9 + r - 1), never missing
            out = sum(1 for v in (meta["id_base"] + 1, meta["id_base"] + rows) if (lo is not None and v < lo) or (hi is not None and v > hi))
            if out:
                sys.exit("compare.py: the id range in expectations.json excludes some ids; the truth for it is not computed")
            truth[("range", name)] = 0
            truth[("not_null", name)] = 0
            continue
        i = columns.index(name) - 1
        nulls = sum(n for e, n in zip(examples, counts) if e[i] is None)
        out = [e[i] is not None and ((lo is not None and e[i] < lo) or (hi is not None and e[i] > hi)) for e in examples]
        if lo is not None or hi is not None:
            truth[("range", name)] = sum(n for o, n in zip(out, counts) if o)
        if rate == 0:
            truth[("not_null", name)] = nulls
        elif rate is not None:
            truth[("null_rate", name)] = nulls
        for k, e in enumerate(examples):
            if out[k] or (rate == 0 and e[i] is None):
                bad_example[k] = True
    truth[("unique_key", ",".join(spec["unique_key"]))] = meta["repeated_keys"]
    truth[("duplicate_row", None)] = meta["repeated_rows"]
    truth[("row_count", None)] = rows
    truth_quarantine = sum(n for b, n in zip(bad_example, counts) if b) + sum(n for b, n in zip(bad_example, key_counts) if not b)

    # ---- Ferry: its answer, and the rules of each quarantined row
    ferry = {(r["rule"], r.get("column")): r for r in answer["results"]}
    qrows = {}
    qcount = 0
    with open(quarantine_path) as fh:
        head = fh.readline().rstrip("\n").split(",")
        if head[:2] != ["row", "rules"] or head[2:] != columns:
            mismatches.append(f"Ferry's quarantine header is {head[:4]}..., not row,rules,{','.join(columns[:2])},...")
        for line in fh:
            row, rules, _ = line.split(",", 2)
            qcount += 1
            for rule in rules.split(";"):
                qrows.setdefault(rule, []).append(int(row))

    def qkey(rule, column):
        return f"{rule}:{column}" if rule in ("range", "not_null", "type") else rule

    fmts = [ge["result_format"] for ge in ges]
    gres = [{(r["rule"], r["column"]): r for r in ge["results"]} for ge in ges]
    ge_union = [set() if all("rows" in r for r in ge["results"] if r["rule"] in ("range", "not_null", "unique_key", "duplicate_row")) else None
                for ge in ges]
    table = []
    for key in truth:
        rule, column = key
        f, t = ferry.get(key), truth[key]
        if f is None or any(key not in g for g in gres):
            mismatches.append(f"{rule} {column}: {'Ferry' if f is None else 'GE'} has no result for it")
            continue
        row_rule = rule in ("range", "not_null", "unique_key", "duplicate_row")
        if rule in ("range", "not_null", "unique_key", "duplicate_row", "type"):
            f_n, f_q = f["failures"], len(qrows.get(qkey(rule, column), []))
        elif rule == "null_rate":
            f_n, f_q = round(f["observed"] * answer["rows"]), None
        else:  # row_count
            f_n, f_q = int(f["observed"]), None
        if rule == "null_rate":
            want_pass = t / rows <= [c for c in spec["columns"] if c["name"] == column][0]["max_null_rate"]
        elif rule == "row_count":
            want_pass = t >= (spec.get("min_rows") or 0)
        else:
            want_pass = t == 0
        ok = f_n == t and (f_q is None or f_q == t) and f["passed"] == want_pass
        cells = []
        for k, g in enumerate(gres):
            g = g[key]
            same = None
            if row_rule:
                g_raw = g["unexpected_count"]
                if rule in ("unique_key", "duplicate_row"):
                    g_n, g_ok = g.get("repeats"), g_raw == 2 * t
                else:
                    g_n, g_ok = g_raw, g_raw == t
                if "rows" in g:
                    same = qrows.get(qkey(rule, column), []) == g["rows"]
                    ge_union[k].update(g["rows"])
                g_ok = g_ok and (g_n is None or g_n == t) and same is not False
            elif rule == "null_rate":
                g_raw = g_n = g["unexpected_count"]
                g_ok = g_n == t
            elif rule == "type":
                g_raw, g_n = g["observed_value"], (0 if g["passed"] else None)
                g_ok = g_n == t
            else:
                g_raw = g_n = g["observed_value"]
                g_ok = g_n == t
            g_ok = g_ok and g["passed"] == want_pass
            if not g_ok:
                mismatches.append(f"[GE {fmts[k]}] {rule} {column or ''}: truth {t}, GE raw {g_raw}, GE in Ferry's terms {g_n}, same rows as Ferry {same}, "
                                  f"GE passed={g['passed']} (should be {want_pass})")
            ok = ok and g_ok
            cells += [g_raw, g_n, same] if row_rule or k == 0 else [g_raw, g_n, None]
        if not (f_n == t and (f_q is None or f_q == t) and f["passed"] == want_pass):
            mismatches.append(f"Ferry {rule} {column or ''}: truth {t}, Ferry failures {f_n}, Ferry quarantine rows with it {f_q}, "
                              f"passed={f['passed']} (should be {want_pass})")
        verdicts = "/".join(["pass" if f["passed"] else "FAIL"] + ["pass" if g[key]["passed"] else "FAIL" for g in gres])
        table.append((rule, column, t, f_n, f_q, *cells, verdicts, "yes" if ok else "NO"))
    # the file as a whole
    ferry_q = set(r for rs in qrows.values() for r in rs)
    q_ok = answer["quarantined_rows"] == truth_quarantine == qcount == len(ferry_q)
    cells = []
    for k in range(len(ges)):
        u = ge_union[k]
        if u is not None and u != ferry_q:
            q_ok = False
            mismatches.append(f"[GE {fmts[k]}] GE's failing rows ({len(u)}) are not Ferry's quarantined rows ({len(ferry_q)})")
        cells += [None, None if u is None else len(u), None if u is None else u == ferry_q]
    table.append(("quarantine", None, truth_quarantine, answer["quarantined_rows"], qcount, *cells, "", "yes" if q_ok else "NO"))
    if not q_ok:
        mismatches.append(f"quarantined rows: truth {truth_quarantine}, Ferry {answer['quarantined_rows']}, Ferry's file {qcount}, "
                          f"GE's failing rows {[None if u is None else len(u) for u in ge_union]}")
    for k, ge in enumerate(ges):
        if answer["passed"] or ge["passed"]:
            mismatches.append(f"[GE {fmts[k]}] file verdict: Ferry passed={answer['passed']}, GE success={ge['passed']} (both should fail)")
        if answer["rows"] != rows or ge["rows"] != rows:
            mismatches.append(f"[GE {fmts[k]}] rows: file {rows}, Ferry {answer['rows']}, GE {ge['rows']}")
    detail = [{"result_format": fmts[k], "rows_compared": ge_union[k] is not None} for k in range(len(ges))]
    # Ferry reported something no GE expectation matches (a rule this benchmark did not set)
    for k in ferry:
        if k not in truth:
            mismatches.append(f"Ferry reported an unexpected result {k}: {ferry[k]}")

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "same" if v else "DIFFERENT"
        return f"{v:,}" if isinstance(v, int) else str(v)

    short = {"COMPLETE": "C", "SUMMARY": "S"}
    head = ["rule", "column", "truth", "Ferry", "Ferry quar."]
    for fmt in fmts:
        head += [f"GE-{short[fmt]} raw", f"GE-{short[fmt]}", f"GE-{short[fmt]} rows"]
    head += ["verdicts F/" + "/".join(short[f] for f in fmts), "agree"]
    # drop the columns that say nothing (same rows without row lists)
    keep = [i for i in range(len(head)) if not head[i].endswith(" rows") or any(r[i] is not None for r in table)]
    head = [head[i] for i in keep]
    table = [[r[i] for i in keep] for r in table]
    widths = [max(len(head[i]), *(len(cell(r[i])) for r in table)) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(cell(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in table]
    lines.append("")
    lines.append("truth: from make_data.py's layout. Ferry: its `failures`; Ferry quar.: rows of its quarantine file carrying the rule.")
    lines.append("GE-C / GE-S: Great Expectations with result_format COMPLETE / SUMMARY. raw: GE's unexpected_count, which counts every")
    lines.append("row of a repeated group (pandas duplicated(keep=False)); GE-C, GE-S: in Ferry's terms, the rows after the first (from")
    lines.append("GE's index list, so COMPLETE only). rows: Ferry's quarantine rows carrying the rule = GE's unexpected indices + 1.")
    lines.append("null_rate: missing values (Ferry: observed rate x rows; GE: unexpected_count of not_null(mostly=1-R)). type: GE checks")
    lines.append("the column's dtype (shown), Ferry every value. quarantine: Ferry's quarantined_rows, its file's rows, GE's union of")
    lines.append("unexpected rows. verdicts: pass/FAIL of Ferry, then of GE per result format.")
    text = "\n".join(lines) + "\n"
    with open(out_txt, "w") as fh:
        fh.write(text)
    with open(out_json, "w") as fh:
        json.dump({"agree": not mismatches, "mismatches": mismatches, "truth_quarantine": truth_quarantine,
                   "ferry_quarantine_file_rows": qcount, "formats": detail,
                   "table": [dict(zip(head, r)) for r in table]}, fh, indent=1)
    print(text, end="", file=sys.stderr)
    if mismatches:
        for m in mismatches:
            print(f"MISMATCH: {m}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
