#!/usr/bin/env python3
"""Great Expectations' side of benchmarks/validate/run.sh: reads the CSV with GE's pandas data source and validates
it against the suite that expectations.json (Ferry's format) translates to, in one process.

    bench_ge.py EXPECTATIONS_JSON INPUT_CSV RESULT_FORMAT OUT_JSON

RESULT_FORMAT is GE's: COMPLETE (counts plus every unexpected row's index: what a quarantine needs) or SUMMARY
(counts and up to 20 examples). The translation, per column of expectations.json:
  kind numeric          -> expect_column_values_to_be_in_type_list(type_list=[int64, float64])
  min / max             -> expect_column_values_to_be_between(min_value, max_value)   (nulls are not counted)
  max_null_rate 0       -> expect_column_values_to_not_be_null
  max_null_rate R > 0   -> expect_column_values_to_not_be_null(mostly=1-R)
and per file:
  unique_key [c]        -> expect_column_values_to_be_unique(c)   (several columns: expect_compound_columns_to_be_unique)
  no_duplicate_rows     -> expect_compound_columns_to_be_unique(every column of the file, ignore_row_if="never")
                           (GE has no duplicate-row expectation; this is its equivalent)
  min_rows / max_rows   -> expect_table_row_count_to_be_between

Timed (time.time(), so run.sh can add the interpreter's start): imports, reading (GE's
`data_sources.pandas_default.read_csv`, pandas' C parser), validating (`batch.validate(suite)`). When the result is
in, the script prints nothing yet: it first records `validated_at`, then (untimed) translates GE's results into
Ferry's terms for compare.py and writes OUT_JSON:
  - GE counts every row of a repeated group as unexpected (pandas `duplicated(keep=False)`); Ferry counts only the
    rows after the first. With COMPLETE, the rows after the first are found from GE's unexpected index list (complete)
    and the values at those indices in the data frame GE read (GE's unexpected value list stops at 200); with SUMMARY
    only GE's raw count is reported (`repeats: null`).
  - rows are 1-based data rows (GE's pandas index + 1), as in Ferry's quarantine.
"""
import json
import os
import resource
import sys
import time

T_START = time.time()
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no usage statistics (this machine has no network)

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402

T_IMPORTED = time.time()


def suite_for(spec, header):
    items = []  # (Ferry rule, column, expectation)
    for c in spec["columns"]:
        name = c["name"]
        if c.get("kind", "numeric") == "numeric":
            items.append(("type", name, gxe.ExpectColumnValuesToBeInTypeList(column=name, type_list=["int64", "float64"])))
        if c.get("min") is not None or c.get("max") is not None:
            items.append(("range", name, gxe.ExpectColumnValuesToBeBetween(column=name, min_value=c.get("min"), max_value=c.get("max"))))
        rate = c.get("max_null_rate")
        if rate == 0:
            items.append(("not_null", name, gxe.ExpectColumnValuesToNotBeNull(column=name)))
        elif rate is not None:
            items.append(("null_rate", name, gxe.ExpectColumnValuesToNotBeNull(column=name, mostly=1 - rate)))
    key = spec.get("unique_key") or []
    if len(key) == 1:
        items.append(("unique_key", key[0], gxe.ExpectColumnValuesToBeUnique(column=key[0])))
    elif key:
        items.append(("unique_key", ",".join(key), gxe.ExpectCompoundColumnsToBeUnique(column_list=key, ignore_row_if="never")))
    if spec.get("no_duplicate_rows", True):
        items.append(("duplicate_row", None, gxe.ExpectCompoundColumnsToBeUnique(column_list=header, ignore_row_if="never")))
    if spec.get("min_rows") is not None or spec.get("max_rows") is not None:
        items.append(("row_count", None, gxe.ExpectTableRowCountToBeBetween(min_value=spec.get("min_rows"), max_value=spec.get("max_rows"))))
    return items


def repeats(df, indices, columns):
    """The rows after the first of each group of equal values (Ferry's count), 1-based. GE's COMPLETE result lists
    every unexpected index but at most 200 unexpected values (great_expectations.constants.MAX_RESULT_RECORDS), so
    the values are taken from the data frame GE validated, at GE's indices (pandas treats missing values as equal,
    as GE's duplicated(keep=False) did)."""
    sub = df.loc[sorted(indices), columns]
    return [int(i) + 1 for i in sub.index[sub.duplicated(keep="first")]]


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: bench_ge.py EXPECTATIONS_JSON INPUT_CSV RESULT_FORMAT OUT_JSON")
    spec_path, csv_path, result_format, out = sys.argv[1:]
    spec = json.load(open(spec_path))
    with open(csv_path) as fh:
        header = fh.readline().rstrip("\r\n").split(",")

    t0 = time.time()
    context = gx.get_context(mode="ephemeral")
    items = suite_for(spec, header)
    suite = context.suites.add(gx.ExpectationSuite(name="ferry_bench", expectations=[e for _, _, e in items]))
    t_setup = time.time()
    batch = context.data_sources.pandas_default.read_csv(csv_path)  # pandas' C engine (read_csv's default)
    t_read = time.time()
    result = batch.validate(suite, result_format=result_format)
    t_validated = time.time()

    # ---- untimed: GE's answers in Ferry's terms
    by_id = {r.expectation_config.id: r for r in result.results}
    rows = None
    answers = []
    for rule, column, exp in items:
        r = by_id[exp.id]
        res = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            sys.exit(f"bench_ge.py: {exp.expectation_type} on {column}: GE raised {r.exception_info.get('exception_message')}")
        a = {"rule": rule, "column": column, "expectation": exp.expectation_type, "passed": bool(r.success),
             "unexpected_count": res.get("unexpected_count"), "observed_value": res.get("observed_value"),
             "element_count": res.get("element_count"), "missing_count": res.get("missing_count")}
        idx = res.get("unexpected_index_list")
        if rule == "row_count":
            rows = res.get("observed_value")
        if rule in ("range", "not_null", "unique_key", "duplicate_row") and idx is not None:
            idx = [int(i) if not isinstance(i, dict) else int(next(iter(i.values()))) for i in idx]
            if rule in ("unique_key", "duplicate_row"):
                a["rows"] = repeats(batch.data.dataframe, idx, spec["unique_key"] if rule == "unique_key" else header)
                a["repeats"] = len(a["rows"])
            else:
                a["rows"] = sorted(i + 1 for i in idx)
        elif rule in ("unique_key", "duplicate_row"):
            a["repeats"] = None
        if rule == "type":
            a["observed_value"] = str(res.get("observed_value"))
        answers.append(a)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "tool": "great_expectations",
        "ge_version": gx.__version__,
        "result_format": result_format,
        "rows": rows,
        "passed": bool(result.success),
        "expectations": len(items),
        "started_at": T_START,
        "validated_at": t_validated,
        "phases": {
            "import": round(T_IMPORTED - T_START, 3),
            "context_and_suite": round(t_setup - t0, 3),
            "read_csv": round(t_read - t_setup, 3),
            "validate": round(t_validated - t_read, 3),
        },
        "in_process_seconds": round(t_validated - T_START, 3),
        "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 2),  # the whole process, translation included
        "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "results": answers,
    }
    with open(out, "w") as fh:
        json.dump(report, fh)
    print(json.dumps({k: v for k, v in report.items() if k != "results"}))


if __name__ == "__main__":
    main()
