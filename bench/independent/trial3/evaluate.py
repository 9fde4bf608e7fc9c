#!/usr/bin/env python3
"""Score a crm-migrate run against the truth written by make_data.py.

    python evaluate.py --run-dir out/<run_id> --truth data [--examples 5] [--json scores.json]

Reads <run-dir>/ledger.parquet (or ledger.csv; planned_ledger.* when the run did not commit) and
<truth>/truth/*.csv.  Needs polars (the crm-migrate virtualenv has it).
"""
import argparse
import json
import os
import re
import sys
from collections import Counter, defaultdict

import polars as pl

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_W = [3, 7, 9, 10, 5, 8, 4, 2]

NAME_TAGS = ["former_name", "branch_as_head_office", "legal_form_en", "short_brand", "short_city_brand",
             "short_brand_trade", "short_city_brand_trade", "homophone", "typo", "dup_char", "swap_char", "traditional",
             "trade_synonym", "region_dropped", "region_bracketed", "region_province_city", "region_short",
             "region_added", "form_dropped", "form_swap", "form_gufen_dropped", "note", "spacing"]


def org_check(body8):
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, ORG_W))
    c = 11 - s % 11
    return "X" if c == 10 else ("0" if c == 11 else str(c))


def valid_uscc(raw):
    if raw is None:
        return None
    c = re.sub(r"[\s'`\"]", "", str(raw)).upper()
    if len(c) != 18 or any(ch not in USCC_CHARS for ch in c):
        return None
    s = sum(USCC_CHARS.index(ch) * w for ch, w in zip(c[:17], USCC_W))
    if USCC_CHARS[(31 - s % 31) % 31] != c[17] or org_check(c[8:16]) != c[16]:
        return None
    return c


def pairs(n):
    return n * (n - 1) // 2


def prf(tp, pred, true):
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def load_ledger(run_dir):
    for name in ("ledger.parquet", "ledger.csv", "planned_ledger.parquet", "planned_ledger.csv"):
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            if name.startswith("planned"):
                print(f"note: the run did not commit; scoring {name}")
            if name.endswith(".parquet"):
                df = pl.read_parquet(path)
            else:
                df = pl.read_csv(path, infer_schema_length=0)
            return df.with_columns(pl.col("source_key").cast(pl.Utf8), pl.col("source_row").cast(pl.Utf8))
    sys.exit(f"no ledger in {run_dir}")


def template(reason):
    if reason is None:
        return "(none)"
    t = re.sub(r"'[^']*'", "<name>", reason)
    t = re.sub(r"\((?:[^()]*CUS-[^()]*)\)", "(<ids>)", t)
    t = re.sub(r"CUS-[0-9A-F]{16}", "<id>", t)
    t = re.sub(r"\d+", "N", t)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--truth", required=True, help="the --out folder of make_data.py")
    ap.add_argument("--examples", type=int, default=5)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    tdir = os.path.join(args.truth, "truth")
    ex_n = args.examples
    out = {}

    led = load_ledger(args.run_dir)
    comps = {r["company_id"]: r for r in pl.read_csv(os.path.join(tdir, "companies.csv"), infer_schema_length=0).iter_rows(named=True)}
    tc = pl.read_csv(os.path.join(tdir, "customer_records.csv"), infer_schema_length=0).with_columns(
        pl.col("tags").fill_null(""))
    to = pl.read_csv(os.path.join(tdir, "opportunity_records.csv"), infer_schema_length=0).with_columns(
        pl.col("tags").fill_null(""))

    # ------------------------------------------------------------------ customers
    lc = led.filter(pl.col("entity") == "customer").select("source", "source_key", "disposition", "target_id", "reason", "flags")
    cust = tc.join(lc, on=["source", "source_key"], how="left")
    missing = cust.filter(pl.col("disposition").is_null()).height
    extra = lc.join(tc.select("source", "source_key"), on=["source", "source_key"], how="anti").height
    cust = cust.with_columns(
        pl.when(pl.col("target_id").is_not_null() & pl.col("disposition").is_in(["loaded", "merged", "archived"]))
        .then(pl.col("target_id"))
        .otherwise(pl.lit("REJ:") + pl.col("source") + ":" + pl.col("source_key")).alias("pred"))
    recs = cust.to_dicts()
    print(f"== customers: {len(recs)} truth records, {missing} not in the ledger, {extra} ledger records not in the truth")
    disp = Counter(r["disposition"] for r in recs)
    print("   dispositions:", dict(disp))
    rej = [r for r in recs if r["disposition"] == "rejected"]
    if rej:
        print("   rejected customer reasons:", Counter(template(r["reason"]) for r in rej).most_common(5))

    by_true = defaultdict(list)
    by_pred = defaultdict(list)
    for r in recs:
        by_true[r["company_id"]].append(r)
        by_pred[r["pred"]].append(r)
    tp = sum(pairs(n) for n in Counter((r["pred"], r["company_id"]) for r in recs).values())
    pp = sum(pairs(len(v)) for v in by_pred.values())
    tt = sum(pairs(len(v)) for v in by_true.values())
    p, rcl, f = prf(tp, pp, tt)
    n_pred_clusters = len(by_pred)
    print(f"   pairwise precision {p:.4f}  recall {rcl:.4f}  F1 {f:.4f}   (true pairs {tt}, predicted {pp}, correct {tp})")
    print(f"   entities in truth {len(by_true)}, clusters in the run {n_pred_clusters}")
    out["customer"] = dict(precision=p, recall=rcl, f1=f, true_pairs=tt, pred_pairs=pp, tp=tp, records=len(recs),
                           entities=len(by_true), clusters=n_pred_clusters)

    # main cluster of each company: most records; ties -> more records without a name variation, then smallest id
    def clean(r):
        return not any(t in NAME_TAGS for t in r["tags"].split(";"))

    main = {}
    for cid, rs in by_true.items():
        cnt = Counter(r["pred"] for r in rs if not r["pred"].startswith("REJ:"))
        if not cnt:
            main[cid] = None
            continue
        cl = Counter(r["pred"] for r in rs if clean(r) and not r["pred"].startswith("REJ:"))
        main[cid] = sorted(cnt, key=lambda k: (-cnt[k], -cl.get(k, 0), k))[0]

    # ------------------------------------------------------------------ false merges
    def relation(a, b):
        ca, cb = comps.get(a), comps.get(b)
        if ca is None or cb is None:
            return "other"
        if ca["kind"] == "person" and cb["kind"] == "person":
            return "other: two individuals of one name"
        if ca["parent_id"] and (ca["parent_id"] == b or ca["parent_id"] == cb["parent_id"]) or cb["parent_id"] == a:
            return "branch+head office"
        if ca["group_id"] and ca["group_id"] == cb["group_id"]:
            return "sister companies"
        if ca["brand"] and ca["brand"] == cb["brand"] and ca["city"] != cb["city"]:
            return "same 字号, different cities"
        if ca["brand"] and ca["brand"] == cb["brand"]:
            return "same 字号, same city (unrelated)"
        return "other"

    fm_clusters = Counter()
    fm_examples = defaultdict(list)
    fm_records = 0
    fm_pairs_kind = Counter()
    sister_trades = Counter()
    for k, rs in by_pred.items():
        cids = sorted(set(r["company_id"] for r in rs))
        if len(cids) < 2:
            continue
        major = Counter(r["company_id"] for r in rs).most_common(1)[0][0]
        fm_records += sum(1 for r in rs if r["company_id"] != major)
        kinds = set()
        codes = defaultdict(set)
        for r in rs:
            v = valid_uscc(r["code"])
            if v:
                codes[r["company_id"]].add(v)
        for i in range(len(cids)):
            for j in range(i + 1, len(cids)):
                a, b = cids[i], cids[j]
                rel = relation(a, b)
                kinds.add(rel)
                if rel == "sister companies":
                    sister_trades[" vs ".join(sorted([comps[a]["trade"] or "集团", comps[b]["trade"] or "集团"]))] += 1
                fm_pairs_kind[rel] += 1
                if codes[a] and codes[b] and not (codes[a] & codes[b]):
                    kinds.add("different valid codes")
        filldown = any("code_filldown" in r["tags"] for r in rs)
        for kd in kinds:
            fm_clusters[kd] += 1
            if len(fm_examples[kd]) < ex_n:
                fm_examples[kd].append(
                    " <> ".join(sorted(set(f"{r['name'].strip()}[{r['code'] or '-'}]({r['company_id']})" for r in rs)))[:400]
                    + ("  [fill-down code involved]" if filldown else ""))
    n_fm = sum(1 for rs in by_pred.values() if len(set(r["company_id"] for r in rs)) > 1)
    print(f"\n== false merges: {n_fm} clusters hold more than one true entity ({fm_records} records not of the cluster's main company)")
    for kd, n in fm_clusters.most_common():
        print(f"   {kd}: {n} clusters")
        for e in fm_examples[kd]:
            print(f"      {e}")
    if sister_trades:
        print("   sister pairs merged, by trade pair:", dict(sister_trades.most_common(10)))
    out["false_merges"] = dict(clusters=n_fm, records=fm_records, by_kind=dict(fm_clusters),
                               examples={k: v for k, v in fm_examples.items()})

    # ------------------------------------------------------------------ recall by variation tag
    multi = {cid for cid, rs in by_true.items() if len(rs) > 1}
    tag_n, tag_j, tag_any = Counter(), Counter(), Counter()
    joined_total = any_total = n_dup = 0
    for cid in multi:
        rs = by_true[cid]
        pc = Counter(r["pred"] for r in rs)
        for r in rs:
            j = main[cid] is not None and r["pred"] == main[cid]
            a = pc[r["pred"]] > 1 and not r["pred"].startswith("REJ:")
            n_dup += 1
            joined_total += j
            any_total += a
            for t in set(x for x in r["tags"].split(";") if x):
                tag_n[t] += 1
                tag_j[t] += j
                tag_any[t] += a
    print(f"\n== records of companies with several records: {n_dup}; joined to the main cluster {joined_total / n_dup:.4f}, "
          f"linked to at least one sibling {any_total / n_dup:.4f}")
    print("   recall by variation tag (records of multi-record companies; main cluster / any sibling; n):")
    rows = sorted(tag_n, key=lambda t: tag_j[t] / tag_n[t])
    for t in rows:
        if tag_n[t] >= 5:
            print(f"   {t:28s} {tag_j[t] / tag_n[t]:.3f}  {tag_any[t] / tag_n[t]:.3f}  n={tag_n[t]}")
    out["recall_by_tag"] = {t: dict(n=tag_n[t], main=tag_j[t] / tag_n[t], any=tag_any[t] / tag_n[t]) for t in tag_n}
    out["dup_records_joined_main"] = joined_total / n_dup

    # ------------------------------------------------------------------ miss categories with examples
    def rep(cid):
        rs = [r for r in by_true[cid] if r["pred"] == main[cid]]
        rs.sort(key=lambda r: (0 if valid_uscc(r["code"]) else 1, 0 if clean(r) else 1, r["source"]))
        return rs[0] if rs else None

    def category(r, m):
        tags = r["tags"].split(";")
        for t in NAME_TAGS:
            if t in tags:
                return t
        for t in ("exact_copy", "code_filldown", "code_typo", "code_org9", "code_reg15", "code_tax15"):
            if t in tags:
                return t
        if "addr_moved" in tags or "phone_changed" in tags:
            return "moved (old address / phone)"
        if m is not None and r["name"].strip() == m["name"].strip():
            return "same name, not joined"
        return "name as registered (no name variation)"

    miss_cat = Counter()
    miss_ex = defaultdict(list)
    for cid in sorted(multi):
        m = rep(cid)
        for r in by_true[cid]:
            if main[cid] is not None and r["pred"] == main[cid]:
                continue
            cat = category(r, m)
            if r["disposition"] == "rejected":
                cat = "rejected record"
            miss_cat[cat] += 1
            if len(miss_ex[cat]) < ex_n:
                where = "rejected" if r["disposition"] == "rejected" else ("ambiguous" if "ambiguous_name_match" in (r["flags"] or "") else (
                    "in review" if "possible_duplicate_in_review" in (r["flags"] or "") else "apart"))
                mm = f"{m['name'].strip()!r} [{m['code'] or '-'}] {m['phone'] or ''}" if m else "(no main cluster)"
                miss_ex[cat].append(f"{r['name'].strip()!r} [{r['code'] or '-'}] {r['phone'] or ''}  vs  {mm}   ({where}; {r['source']})")
    print(f"\n== records not joined to their company's main cluster: {sum(miss_cat.values())}, by primary category:")
    for cat, n in miss_cat.most_common():
        print(f"   {cat}: {n}")
    print("\n   examples (missed record  vs  a record of the main cluster):")
    for cat, n in miss_cat.most_common(8):
        print(f"   -- {cat} ({n})")
        for e in miss_ex[cat]:
            print(f"      {e}")
    out["miss_categories"] = dict(miss_cat)
    out["miss_examples"] = {k: v for k, v in miss_ex.items()}

    # ------------------------------------------------------------------ why true pairs were not merged (match_pairs.parquet)
    mp_path = os.path.join(args.run_dir, "match_pairs.parquet")
    if os.path.exists(mp_path):
        mp = pl.read_parquet(mp_path)
        key = {(r["source"], r["source_key"]): r for r in recs}
        scored_true = Counter()
        review_true = review_n = 0
        merged_false = Counter()
        seen_true = set()
        for row in mp.select("source_a", "key_a", "source_b", "key_b", "cluster_a", "cluster_b", "hard_rule",
                             "match_probability").iter_rows():
            sa, ka, sb, kb, ca, cb, rule, prob = row
            a, b = key.get((sa, str(ka))), key.get((sb, str(kb)))
            if a is None or b is None:
                continue
            same = a["company_id"] == b["company_id"]
            if a["pred"] != b["pred"]:
                review_n += 1
                review_true += same
                if same:
                    why = rule if rule else ("p >= auto-merge but not merged" if prob >= 0.99 else "0.5 <= p < 0.99")
                    scored_true[why] += 1
                    seen_true.add(frozenset((id(a), id(b))))
            elif not same:
                merged_false[rule or "no hard rule"] += 1
        true_missed_pairs = tt - tp
        print(f"\n== scored pairs left in two clusters (review candidates): {review_n}, of which same true company: {review_true}"
              f" ({review_true / max(review_n, 1):.3f})")
        print("   same-company pairs left apart, by what held them back:")
        for k2, n in scored_true.most_common():
            print(f"      {k2}: {n}")
        print(f"   (missed true record pairs in all: {true_missed_pairs}; the rest were never scored at p >= review threshold)")
        out["review"] = dict(pairs=review_n, true=review_true, held_back=dict(scored_true))

    # ------------------------------------------------------------------ opportunities
    lo = led.filter(pl.col("entity") == "opportunity").select("source", "source_key", "disposition", "target_id", "reason", "flags",
                                                             "customer_target_id")
    opp = to.join(lo, on=["source", "source_key"], how="left").to_dicts()
    miss_o = sum(1 for o in opp if o["disposition"] is None)
    pred_members = defaultdict(set)
    for r in recs:
        pred_members[r["pred"]].add(r["company_id"])
    ok = lenient = 0
    status = Counter()
    by_src = defaultdict(Counter)
    by_tag = defaultdict(Counter)
    wrong_ex = []
    wrong_rel = Counter()
    for o in opp:
        m = main.get(o["company_id"])
        ct = o["customer_target_id"]
        if ct is not None and m is not None and ct == m:
            st = "right company (main cluster)"
            ok += 1
            lenient += 1
        elif ct is not None and o["company_id"] in pred_members.get(ct, ()):
            st = "right company, another of its clusters"
            lenient += 1
        elif ct is not None:
            st = "wrong company"
            others = pred_members.get(ct, set())
            wrong_rel[", ".join(sorted(set(relation(o["company_id"], x) for x in others))) or "?"] += 1
            if len(wrong_ex) < ex_n * 2:
                wrong_ex.append(f"{o['customer_ref']!r} -> cluster of {sorted(pred_members.get(ct, ()))[:3]} "
                                f"(true {o['company_id']} {comps.get(o['company_id'], {}).get('name', '')})")
        elif o["disposition"] == "rejected":
            st = "rejected"
        else:
            st = "no customer (" + str(o["disposition"]) + ")"
        status[st] += 1
        by_src[o["source"]][st] += 1
        for t in o["tags"].split(";"):
            if t:
                by_tag[t][st] += 1
    n_o = len(opp)
    print(f"\n== opportunities: {n_o} truth records ({miss_o} not in the ledger)")
    print(f"   attached to the right company's main cluster: {ok / n_o:.4f}   (to any cluster holding the company: {lenient / n_o:.4f})")
    for st, n in status.most_common():
        print(f"   {st}: {n}")
    for s, c in sorted(by_src.items()):
        print(f"   {s}: " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
    print("   by customer-name form / tag (share on the main cluster, n):")
    for t in sorted(by_tag, key=lambda t: -sum(by_tag[t].values())):
        n = sum(by_tag[t].values())
        print(f"   {t:28s} {by_tag[t]['right company (main cluster)'] / n:.3f}  n={n}  rejected={by_tag[t]['rejected']}  wrong={by_tag[t]['wrong company']}")
    if wrong_rel:
        print("   attached to a wrong company, relation of the attached cluster's companies to the true one:", dict(wrong_rel.most_common()))
    if wrong_ex:
        print("   attached to a wrong company, examples:")
        for e in wrong_ex:
            print("      " + e)
    rej_o = [o for o in opp if o["disposition"] == "rejected"]
    print(f"   rejected opportunities: {len(rej_o)}; top reasons:")
    rr = Counter((o["source"], template(o["reason"])) for o in rej_o)
    for (s, t), n in rr.most_common(8):
        print(f"      {n:6d}  {s}: {t}")
    print("   rejected examples:")
    seen = Counter()
    for o in rej_o:
        t = template(o["reason"])
        if seen[t] < 2:
            seen[t] += 1
            print(f"      {o['reason'][:160]}  (true: {comps.get(o['company_id'], {}).get('name', '')})")
    amb = Counter()
    amb_ex = defaultdict(list)
    for o in rej_o:
        ids = re.findall(r"CUS-[0-9A-F]{16}", o["reason"] or "")
        if ids:
            holders = [pred_members.get(i, set()) for i in ids]
            n_true = sum(1 for h in holders if o["company_id"] in h)
            if n_true == len(ids):
                amb["all candidates are clusters of the true company (customer split)"] += 1
            else:
                others = set().union(*holders) - {o["company_id"]}
                rels = sorted(set(relation(o["company_id"], x) for x in others))
                k = ("true company among candidates; others: " if n_true else "true company NOT among candidates; others: ") + ", ".join(rels)
                amb[k] += 1
                if len(amb_ex[k]) < 3:
                    amb_ex[k].append(f"{o['customer_ref']!r}: true {comps.get(o['company_id'], {}).get('name', '')}; others "
                                     + "; ".join(comps.get(x, {}).get("name", x) for x in sorted(others)[:3]))
    if amb:
        print("   rejects naming candidate customers, diagnosed:")
        for k, n in amb.most_common():
            print(f"      {n:5d}  {k}")
            for x in amb_ex.get(k, []):
                print(f"             e.g. {x}")
    out["opportunities_ambiguity"] = dict(amb)
    out["opportunities"] = dict(right_main=ok / n_o, right_any=lenient / n_o, status=dict(status),
                                rejected_reasons={f"{s}: {t}": n for (s, t), n in rr.most_common(20)})

    # ------------------------------------------------------------------ duplicate deals
    for o in opp:
        o["opred"] = o["target_id"] if (o["target_id"] is not None and o["disposition"] in ("loaded", "merged")) \
            else f"REJ:{o['source']}:{o['source_key']}"
    tpo = sum(pairs(n) for n in Counter((o["opred"], o["deal_id"]) for o in opp).values())
    ppo = sum(pairs(n) for n in Counter(o["opred"] for o in opp).values())
    tto = sum(pairs(n) for n in Counter(o["deal_id"] for o in opp).values())
    p, rcl, f = prf(tpo, ppo, tto)
    print(f"\n== duplicate deals: pairwise precision {p:.4f}  recall {rcl:.4f}  F1 {f:.4f}  (true pairs {tto}, predicted {ppo}, correct {tpo})")
    out["deals"] = dict(precision=p, recall=rcl, f1=f, true_pairs=tto, pred_pairs=ppo, tp=tpo)
    deals = {r["deal_id"]: r for r in pl.read_csv(os.path.join(tdir, "deals.csv"), infer_schema_length=0).iter_rows(named=True)}
    bad = Counter()
    bad_ex = defaultdict(list)
    grp = defaultdict(list)
    for o in opp:
        grp[o["opred"]].append(o)
    for k, os_ in grp.items():
        ds = sorted(set(o["deal_id"] for o in os_))
        for i in range(len(ds)):
            for j in range(i + 1, len(ds)):
                a, b = deals[ds[i]], deals[ds[j]]
                kind = "renewal merged" if (a["renewal_of"] == b["deal_id"] or b["renewal_of"] == a["deal_id"]) and "renewal" in (a["kind"], b["kind"]) else (
                    "repeat order merged" if "repeat_order" in (a["kind"], b["kind"]) else (
                        "different companies" if a["company_id"] != b["company_id"] else "other deal of the same company"))
                bad[kind] += 1
                if len(bad_ex[kind]) < ex_n:
                    oa = next(o for o in os_ if o["deal_id"] == a["deal_id"])
                    ob = next(o for o in os_ if o["deal_id"] == b["deal_id"])
                    bad_ex[kind].append(f"{oa['deal_name']!r} {oa['amount']} {oa['close']}  <>  {ob['deal_name']!r} {ob['amount']} {ob['close']}")
    if bad:
        print("   wrongly merged deal pairs:", dict(bad))
        for kd, es in bad_ex.items():
            print(f"   -- {kd}")
            for e in es:
                print("      " + e)
    # missed duplicate-deal records
    by_deal = defaultdict(list)
    for o in opp:
        by_deal[o["deal_id"]].append(o)
    miss_d = Counter()
    miss_dex = defaultdict(list)
    for did, os_ in by_deal.items():
        if len(os_) < 2:
            continue
        first = os_[0]
        for o in os_[1:]:
            if o["opred"] == first["opred"]:
                continue
            if o["disposition"] == "rejected" or first["disposition"] == "rejected":
                why = "one side rejected"
            elif o["customer_target_id"] != first["customer_target_id"]:
                why = "attached to different customers"
            elif "dup_amount_changed" in o["tags"] + first["tags"]:
                why = "amount changed"
            elif o["deal_name"].strip() != first["deal_name"].strip():
                why = "name changed" + (" + close date shifted" if "dup_close_shift" in o["tags"] + first["tags"] else "")
            elif "dup_close_shift" in o["tags"] + first["tags"]:
                why = "close date shifted only"
            else:
                why = "same name, amount and close date"
            miss_d[why] += 1
            if len(miss_dex[why]) < ex_n:
                miss_dex[why].append(f"{first['source']} {first['deal_name']!r} {first['amount']} {first['close']}  <>  "
                                     f"{o['source']} {o['deal_name']!r} {o['amount']} {o['close']}")
    if miss_d:
        print("   missed duplicate-deal records:", dict(miss_d))
        for kd, es in miss_dex.items():
            print(f"   -- {kd}")
            for e in es:
                print("      " + e)
    out["deals"].update(wrong_pairs=dict(bad), missed=dict(miss_d))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
