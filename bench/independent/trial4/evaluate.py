"""Score a crm-migrate run against the truth written by make_data.py.

usage: python evaluate.py [RUN_FOLDER]   (default: newest run folder in out/ with a ledger.csv)
Reads the run's ledger.csv (one row per source record: target_id, customer_target_id, disposition,
reason), and the target database's crm_opportunity table as a cross-check.
"""
import collections, csv, glob, json, os, re, sqlite3, sys

import argparse  # bench/independent.py passes --run-dir, --truth and --json
_args = argparse.ArgumentParser()
_args.add_argument("run_folder", nargs="?")
_args.add_argument("--run-dir")
_args.add_argument("--truth")
_args.add_argument("--json")
_args = _args.parse_args()
HERE = os.path.dirname(os.path.abspath(_args.truth)) if _args.truth else os.path.dirname(os.path.abspath(__file__))
DATA = os.path.abspath(_args.truth) if _args.truth else os.path.join(HERE, "data")
run = _args.run_dir or _args.run_folder or sorted(
    p for p in glob.glob(os.path.join(HERE, "out", "*")) if os.path.exists(os.path.join(p, "ledger.csv")))[-1]
led = list(csv.DictReader(open(os.path.join(run, "ledger.csv"), encoding="utf-8")))
truth_c = {(r["source"], r["source_key"]): r for r in csv.DictReader(open(os.path.join(DATA, "truth_customers.csv"), encoding="utf-8"))}
truth_o = {(r["source"], r["source_key"]): r for r in csv.DictReader(open(os.path.join(DATA, "truth_opps.csv"), encoding="utf-8"))}
comp = {r["id"]: r for r in csv.DictReader(open(os.path.join(DATA, "companies.csv"), encoding="utf-8"))}


def pairs(n):
    return n * (n - 1) // 2


def prf(groups_pred, groups_true, items):
    """pairwise precision/recall/F1 of two labelings of items"""
    cont = collections.Counter((groups_pred[i], groups_true[i]) for i in items)
    pp = collections.Counter(groups_pred[i] for i in items)
    tt = collections.Counter(groups_true[i] for i in items)
    tp = sum(pairs(v) for v in cont.values())
    P = sum(pairs(v) for v in pp.values())
    T = sum(pairs(v) for v in tt.values())
    p = tp / P if P else 1.0
    r = tp / T if T else 1.0
    return dict(tp=tp, pred_pairs=P, true_pairs=T, precision=round(p, 4), recall=round(r, 4),
                f1=round(2 * p * r / (p + r), 4) if p + r else 0)


# ------------------------------------------------------------------ customers
cust = {}
for r in led:
    if r["entity"] != "customer":
        continue
    k = (r["source"], r["source_key"])
    if k not in truth_c:
        print("ledger customer not in truth:", k, r["disposition"])
        continue
    cust[k] = r
missing = [k for k in truth_c if k not in cust]
print(f"run {os.path.basename(run)}: {len(cust)} customer records in ledger, {len(missing)} truth records absent")
pred = {}
for k, r in cust.items():
    pred[k] = r["target_id"] if r["target_id"] else f"REJ:{k}"
true = {k: truth_c[k]["company_id"] for k in cust}
res_c = prf(pred, true, list(cust))
clusters = collections.defaultdict(list)
for k in cust:
    clusters[pred[k]].append(k)
impure = {g: ks for g, ks in clusters.items() if len({true[k] for k in ks}) > 1}
print("\n== customers")
print(json.dumps(res_c, ensure_ascii=False))
print(f"golden records: {len(clusters)}  true companies: {len(set(true.values()))}  clusters with >1 true company: {len(impure)}")

# main cluster of each company
by_co = collections.defaultdict(collections.Counter)
for k in cust:
    by_co[true[k]][pred[k]] += 1
main = {c: cnt.most_common(1)[0][0] for c, cnt in by_co.items()}


def name(k):
    return truth_c[k]["name"]


def rel(a, b):
    A, B = comp[a], comp[b]
    for x, y in ((A, B), (B, A)):
        if x["parent"] == y["id"]:
            return {"branch": "branch vs head office", "sister": "sister company (shared phone/address)",
                    "samebrand": "same brand, other city"}[x["kind"]]
    if A["parent"] and A["parent"] == B["parent"]:
        return "two children of one company (" + A["kind"] + "/" + B["kind"] + ")"
    if A["brand"] == B["brand"]:
        return "same brand, unrelated"
    return "unrelated companies"


# misses: record not in its company's main cluster
miss = collections.defaultdict(list)
for k in cust:
    c = true[k]
    if pred[k] != main[c]:
        other = next(m for m in cust if true[m] == c and pred[m] == main[c])
        t = truth_c[k]
        kind = f"{t['variant']} name / code {t['code_kind']} ({k[0]})"
        if comp[c]["kind"] == "branch":
            kind = "branch: " + kind
        fl = cust[k]["flags"] + ";" + cust[other]["flags"]
        kind += " -> " + ("ambiguous_name_match" if "ambiguous_name_match" in fl else "in review queue" if "possible_duplicate_in_review" in fl else "not proposed")
        miss[kind].append((name(k), truth_c[other]["name"], k, other))
print(f"\n-- records split from their company's main golden record: {sum(map(len, miss.values()))}")
for kind, ex in sorted(miss.items(), key=lambda x: -len(x[1]))[:14]:
    print(f"{len(ex):4d}  {kind}")
    for a, b, ka, kb in ex[:2]:
        print(f"        {a!r} [{ka[0]}:{ka[1]}]  vs  {b!r} [{kb[0]}:{kb[1]}]  ({cust[ka]['flags']})")
# miss variety by simplified kind (variant only)
print("   by outcome:", dict(collections.Counter(kind.split(" -> ")[1] for kind in miss for _ in miss[kind])))
mv = collections.Counter(truth_c[k]["variant"] for kind in miss for *_, k, _o in miss[kind])
print("   by name variant:", dict(mv.most_common()))
mc = collections.Counter(truth_c[k]["code_kind"] for kind in miss for *_, k, _o in miss[kind])
print("   by code kind:", dict(mc.most_common()))

fm = collections.defaultdict(list)
for g, ks in impure.items():
    cnt = collections.Counter(true[k] for k in ks)
    top = cnt.most_common(1)[0][0]
    for c in cnt:
        if c == top:
            continue
        k = next(m for m in ks if true[m] == c)
        k2 = next(m for m in ks if true[m] == top)
        fm[rel(c, top) + f" [{comp[c]['trade']} / {comp[top]['trade']}]" * (comp[c]['kind'] == 'sister' or comp[top]['kind'] == 'sister')].append((name(k), name(k2), k, k2, cust[k]["reason"][:120]))
print(f"\n-- false merges (extra companies inside a golden record): {sum(map(len, fm.values()))}")
for kind, ex in sorted(fm.items(), key=lambda x: -len(x[1])):
    print(f"{len(ex):4d}  {kind}")
    for a, b, ka, kb, why in ex[:3]:
        print(f"        {a!r} [{ka[0]}:{ka[1]}]  +  {b!r} [{kb[0]}:{kb[1]}]   {why}")

# ------------------------------------------------------------------ opportunities
opp = {}
for r in led:
    if r["entity"] != "opportunity":
        continue
    k = (r["source"], r["source_key"])
    if k not in truth_o:
        print("ledger opportunity not in truth:", k, r["disposition"])
        continue
    opp[k] = r
print(f"\n== opportunities: {len(opp)} in ledger, {len([k for k in truth_o if k not in opp])} truth records absent")
right = 0
fail = collections.defaultdict(list)
for k, r in opp.items():
    c = truth_o[k]["company_id"]
    g = r["customer_target_id"]
    if r["disposition"] == "rejected" or not g:
        why = re.sub(r"'[^']*'", "X", r["reason"])
        why = re.sub(r"\(CUS[^)]*\)", "(..)", why)
        why = re.sub(r"\d+", "N", why)
        fail["rejected: " + why].append(k)
        continue
    if g == main.get(c):
        right += 1
        continue
    members = [m for m in cust if pred[m] == g]
    cos = {true[m] for m in members}
    if c in cos:
        fail["attached to a minor split of the right company"].append(k)
    else:
        kinds = {rel(c, x) if x in comp else "?" for x in cos}
        fail["attached to another company: " + "/".join(sorted(kinds))].append(k)
print(f"opportunities on the right company: {right}/{len(opp)} = {right / len(opp):.4f}")
import openpyxl
_ws = openpyxl.load_workbook(os.path.join(DATA, "sales_team.xlsx"), read_only=True)["商机跟进"]
_cn = {str(i): row[1] for i, row in enumerate(_ws.iter_rows(values_only=True), 1)}
_gname = {}
for m in cust:
    _gname.setdefault(pred[m], name(m))
print("failure reasons:")
for why, ks in sorted(fail.items(), key=lambda x: -len(x[1])):
    k = ks[0]
    exs = []
    for k in ks[:2]:
        said = _cn.get(k[1]) if k[0] == "sales_workbook_opps" else "key " + (k[1])
        exs.append(f"{k[0]}:{k[1]} names {said!r}; true {comp[truth_o[k]['company_id']]['full']!r}; got {_gname.get(opp[k]['customer_target_id'], '-')!r} {opp[k]['reason'][:60]!r}")
    ex = "\n         e.g. ".join(exs)
    print(f"{len(ks):5d}  {why[:110]}\n         e.g. {ex}")

# duplicate deals
dpred = {k: (r["target_id"] or f"REJ:{k}") for k, r in opp.items()}
dtrue = {k: truth_o[k]["deal_id"] for k in opp}
res_d = prf(dpred, dtrue, list(opp))
print("\n== duplicate deals (pairwise over opportunity records)")
print(json.dumps(res_d, ensure_ascii=False))
# kinds of deal misses
dm = collections.Counter()
for d, ks in collections.defaultdict(list, {}).items():
    pass
bydeal = collections.defaultdict(list)
for k in opp:
    bydeal[dtrue[k]].append(k)
for d, ks in bydeal.items():
    if len(ks) > 1 and len({dpred[k] for k in ks}) > 1:
        if any(opp[k]["disposition"] == "rejected" for k in ks):
            dm["one side rejected (customer not linked)"] += 1
        elif len({opp[k]["customer_target_id"] for k in ks}) > 1:
            dm["two sides on different customers"] += 1
        else:
            dm["same customer, not recognised as one deal"] += 1
print("missed duplicate deals:", dict(dm))
fpd = collections.Counter()
for g in set(dpred.values()):
    ks = [k for k in opp if dpred[k] == g] if False else None
pg = collections.defaultdict(list)
for k in opp:
    pg[dpred[k]].append(k)
for g, ks in pg.items():
    if len({dtrue[k] for k in ks}) > 1:
        ds = {dtrue[k] for k in ks}
        fpd["renewal merged" if len(ks) else ""] += 1
print("predicted deals holding >1 true deal:", sum(fpd.values()))

# cross-check with target
try:
    con = sqlite3.connect(os.path.join(os.path.dirname(run), "target.sqlite"))
    n_acc = con.execute("select count(*) from crm_account").fetchone()[0]
    n_opp = con.execute("select count(*) from crm_opportunity").fetchone()[0]
    print(f"\ntarget: crm_account {n_acc} rows, crm_opportunity {n_opp} rows")
except Exception as e:
    print("target read failed:", e)
json.dump(dict(run=run, customers=res_c, impure_clusters=len(impure), opp_right=right / len(opp),
               deals=res_d), open(os.path.join(HERE, "scores.json"), "w"), indent=1)
if _args.json:  # the figures bench/independent.py reads, in its names
    json.dump({"customer": {k: res_c[k] for k in ("precision", "recall", "f1")}, "false_merges": {"clusters": len(impure)},
               "opportunities": {"right_main": right / len(opp)}, "deals": {"f1": res_d["f1"]}}, open(_args.json, "w"), indent=1)
